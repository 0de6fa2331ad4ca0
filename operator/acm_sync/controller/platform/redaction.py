"""Logging setup that can never print key material.

Every handler of the root logger carries :class:`RedactingFilter`: a filter attached to a
*logger* does not see records propagated from child loggers, a filter on the *handler* does.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

# A PEM block of any kind (keys, certificates, parameters); non-greedy so adjacent blocks stay
# separate and text between them survives.
_PEM = re.compile(r"-----BEGIN [A-Z0-9 ]+-----.*?(-----END [A-Z0-9 ]+-----|$)", re.DOTALL)
# Base64 of a key or certificate in a Secret's data, possibly escaped inside a repr or JSON.
# 60 characters is shorter than any key's base64 yet longer than ARNs and uids.
_BASE64 = re.compile(r"[A-Za-z0-9+/]{60,}={0,2}")
# What a long run may be without being base64 of key material: Kubernetes object names (DNS
# labels and subdomains, lowercase letters and digits once '-' and '.' split them), paths of
# them, and hex fingerprints. Base64 of random bytes holds upper case letters: a 60-character
# run without any has odds of about (38/64)**60, 3e-14.
_NOT_KEY_MATERIAL = re.compile(r"[a-z0-9/]+")
# AWS access key ids (long-term AKIA, temporary ASIA): credentials never reach a log.
_ACCESS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{12,}\b")
REDACTED = "[REDACTED]"

# Loggers that write request or response bodies at DEBUG.
_NOISY_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer", "kubernetes.client.rest")


def redact(text: str) -> str:
    """Replace PEM blocks, AWS access key ids and base64 blobs in ``text``; object names and
    hex are kept."""
    text = _PEM.sub(REDACTED, text)
    text = _ACCESS_KEY_ID.sub(REDACTED, text)
    return _BASE64.sub(_keep_names, text)


def _keep_names(match: re.Match[str]) -> str:
    # SHA-256 fingerprints (64 lowercase hex characters) and long object names are useful in
    # logs and carry no secret.
    value = match.group(0)
    return value if _NOT_KEY_MATERIAL.fullmatch(value) else REDACTED


class RedactingFilter(logging.Filter):
    """Rewrites each record's message (with its arguments merged in) through :func:`redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Always keep the record, but with key material removed."""
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not hide the record
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        event = getattr(record, "event", None)
        if isinstance(event, dict):
            # notices.log_notice's fields, which the JSON format prints beside the message.
            record.event = {k: redact(v) if isinstance(v, str) else v for k, v in event.items()}
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            # Format the traceback now so that the formatter cannot re-render the raw exception.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and kopf's object reference.

    A line about an Event (``notices.log_notice``) carries its facts as fields instead (kind,
    namespace, name, reason, target, account, region, arn) and the Event's message.
    """

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as a JSON line."""
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        event = getattr(record, "event", None)
        ref = getattr(record, "k8s_ref", None)
        if isinstance(event, dict):
            payload.update(event)
        elif isinstance(ref, dict):
            payload["object"] = {k: ref.get(k) for k in ("namespace", "name", "kind") if k in ref}
        if record.exc_text:
            payload["exception"] = record.exc_text
        return json.dumps(payload)


def configure_logging(level: str = "INFO", fmt: str = "text", stream: TextIO | None = None) -> None:
    """Install one handler on the root logger with redaction, at ``level``, writing to
    ``stream`` (stderr by default)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RedactingFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level.upper())
    if root.level > logging.DEBUG:
        # kopf reports every handler call at INFO: one line per Secret event is noise.
        logging.getLogger("kopf").setLevel(max(logging.WARNING, root.level))
    else:
        # Configured again at DEBUG (a test, the playground): kopf follows the root again.
        logging.getLogger("kopf").setLevel(logging.NOTSET)
    for name in _NOISY_LOGGERS:
        # These log whole HTTP bodies at DEBUG: an ImportCertificate request carries the key.
        logging.getLogger(name).setLevel(logging.WARNING)
