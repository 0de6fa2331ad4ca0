"""The strict ACM emulator's HTTP front end: ACM's JSON 1.1 protocol plus a control API.

Point boto3 or the AWS CLI at :attr:`AcmEmulator.url` (``endpoint_url=`` or
``AWS_ENDPOINT_URL``) with any credentials. The region is taken from the SigV4 credential
scope, as AWS does. Tests that run the operator as a separate process drive faults and read
the call log under ``/_acm_emulator/``.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
import uuid
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from acm_sync_testbed.emulators.acm.backend import AcmError, StrictAcm
from acm_sync_testbed.emulators.acm.faults import DropConnection
from acm_sync_testbed.emulators.acm.podidentity import PATH as POD_IDENTITY_PATH
from acm_sync_testbed.emulators.acm.podidentity import PodIdentity
from acm_sync_testbed.emulators.acm.sts import Sts, StsError, error_xml
from acm_sync_testbed.emulators.acm.tagging import TARGET_PREFIX, TaggingApi, tagging_region
from acm_sync_testbed.emulators.acm.webidentity import WebIdentity

CONTROL_PREFIX = "/_acm_emulator/"
_SCOPE_RE = re.compile(r"Credential=[^/,]+/[0-9]{8}/([a-z0-9-]+)/acm/")
_CREDENTIAL_RE = re.compile(r"Credential=([^/,\s]+)/[0-9]{8}/[a-z0-9-]+/([a-z0-9-]+)/")
_JSON_TYPE = "application/x-amz-json-1.1"


def region_of_request(request: Request) -> str:
    """The region from the SigV4 Authorization header's credential scope (us-east-1 if none)."""
    match = _SCOPE_RE.search(request.headers.get("Authorization", ""))
    return match.group(1) if match else "us-east-1"


def credential_of(request: Request) -> tuple[str | None, str | None]:
    """(access key id, service) from the SigV4 credential scope, (None, None) if unsigned."""
    match = _CREDENTIAL_RE.search(request.headers.get("Authorization", ""))
    return (match.group(1), match.group(2)) if match else (None, None)


class _QuietHandler(WSGIRequestHandler):
    """Keep-alive connections (as AWS endpoints have) and no access log on stderr."""

    protocol_version = "HTTP/1.1"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Tests read the call log instead."""


def _json(body: Any, status: int = 200, content_type: str = "application/json") -> Response:
    return Response(json.dumps(body), status=status, content_type=content_type)


class AcmEmulator:
    """A threaded HTTP server holding every region's certificates; start, use, stop.

    ``config`` goes to :class:`StrictAcm`: ``rates`` (API -> calls/s per region),
    ``import_quota``, ``reimport_counts_toward_quota``, ``extra_regions`` (served besides
    the regions botocore knows ACM in; a request for any other region is refused with
    ``InvalidSignatureException``, see :mod:`acm_sync_testbed.emulators.acm.regions`) and ``limits``
    (:class:`acm_sync_testbed.emulators.acm.rules.Limits`: the key, certificate, chain and OCSP URL
    size limits; the certificate and chain ones are unverified, hence settable).

    STS (AssumeRole, GetCallerIdentity) is served at the same URL. ``roles`` maps the role ARNs
    whose trust policy lets the caller assume them to the external id each requires (None:
    none); they survive :meth:`reset`. Each request acts in the account of the credentials
    that signed it: assumed ones in their role's account, any other key in 123456789012.
    IRSA's AssumeRoleWithWebIdentity (:attr:`web_identity`) and EKS Pod Identity's credentials
    endpoint at ``/v1/credentials`` (:attr:`pod_identity`) issue the same kind of sessions.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        roles: dict[str, str | None] | None = None,
        **config: Any,
    ) -> None:
        self.host = host
        self.port = port
        self.acm = StrictAcm(**config)
        self.sts = Sts(dict(roles or {}))
        self.web_identity = WebIdentity(self.sts)  # IRSA: AssumeRoleWithWebIdentity
        self.pod_identity = PodIdentity(self.sts)  # EKS Pod Identity: GET /v1/credentials
        self.tagging = TaggingApi()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # ----- lifecycle -----
    def start(self) -> AcmEmulator:
        """Bind and serve in a daemon thread; returns self so ``AcmEmulator().start()`` chains."""
        self._server = make_server(
            self.host, self.port, self._wsgi, threaded=True, request_handler=_QuietHandler
        )
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="acm-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> AcmEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The endpoint URL for boto3 / AWS_ENDPOINT_URL."""
        return f"http://{self.host}:{self.port}"

    # ----- in-process control (the same operations as the HTTP control API) -----
    def reset(self) -> None:
        """Forget certificates (every account), calls, faults, rates, quota, added regions,
        STS sessions, roles trusted after construction and GetResources denials."""
        self.acm.reset()
        self.sts.reset()
        self.web_identity.reset()
        self.pod_identity.reset()
        self.tagging.reset()

    def trust_role(self, role_arn: str, external_id: str | None = None) -> None:
        """Let ``role_arn`` be assumed by AssumeRole (with ``external_id`` when given)."""
        self.sts.trust(role_arn, external_id)

    def distrust_role(self, role_arn: str) -> None:
        """AssumeRole of ``role_arn`` fails with AccessDenied from now on."""
        self.sts.distrust(role_arn)

    def sessions(self) -> list[dict[str, Any]]:
        """The STS sessions issued: account, role, session name and tags (never secrets)."""
        return [s.as_dict() for s in self.sts.sessions()]

    def deny_tagging(self, denied: bool = True, account: str | None = None) -> None:
        """Answer the Tagging API's GetResources with AccessDeniedException (as IAM does
        without ``tag:GetResources``), in ``account`` or in every account, until reset."""
        self.tagging.deny(denied, account)

    def set_rates(self, rates: dict[str, float]) -> None:
        """Per-API rate limits, calls/s per region; above them calls get ThrottlingException."""
        self.acm.set_rates(rates)

    def add_regions(self, regions: list[str]) -> None:
        """Serve ``regions`` as well as botocore's ACM regions, until reset."""
        self.acm.add_regions(regions)

    def set_import_quota(self, quota: int | None) -> None:
        """Imports each region accepts before LimitExceededException."""
        self.acm.set_import_quota(quota)

    def set_in_use(self, arn: str, in_use: bool = True, users: int = 1) -> None:
        """Mark a certificate in use by ``users`` load balancers, or free it.

        While in use, DeleteCertificate fails with ResourceInUseException.
        """
        self.acm.set_in_use(arn, in_use, users)

    def lose_import_responses(self, count: int = 1, region: str | None = None) -> None:
        """Commit the next ``count`` new imports, then drop the connection unanswered."""
        self.acm.faults.lose_import_responses(count, region)

    def fail_next(
        self,
        count: int,
        *,
        status: int = 500,
        error: str = "InternalFailure",
        api: str | None = None,
        region: str | None = None,
    ) -> None:
        """Answer the next ``count`` matching calls with ``error`` (a 5xx by default)."""
        self.acm.faults.fail_next(count, status=status, error=error, api=api, region=region)

    def lose_responses(
        self, count: int = 1, *, api: str | None = None, region: str | None = None
    ) -> None:
        """Commit the next ``count`` matching writes, then drop the connection."""
        self.acm.faults.lose_responses(count, api=api, region=region)

    def fail_after_commit(
        self,
        count: int = 1,
        *,
        status: int = 500,
        error: str = "InternalFailure",
        api: str | None = None,
        region: str | None = None,
    ) -> None:
        """Commit the next ``count`` matching writes, then answer ``error``."""
        self.acm.faults.fail_after_commit(count, status=status, error=error, api=api, region=region)

    def add_latency(
        self, count: int, seconds: float, *, api: str | None = None, region: str | None = None
    ) -> None:
        """Answer the next ``count`` matching calls ``seconds`` late, after they took effect."""
        self.acm.faults.add_latency(count, seconds, api=api, region=region)

    def set_region_down(self, region: str, down: bool = True) -> None:
        """Drop every connection for ``region`` until healed."""
        self.acm.faults.set_region_down(region, down)

    def calls(self) -> list[dict[str, Any]]:
        """The call log, oldest first (API, region, outcome, ARN, parameter names)."""
        return [call.as_dict() for call in self.acm.calls()]

    def counts(self) -> dict[str, dict[str, int]]:
        """Calls per region, then per API."""
        return self.acm.counts()

    def certificates(
        self, region: str | None = None, account: str | None = None
    ) -> list[dict[str, Any]]:
        """Stored certificates of every account (or ``account``): ARN, account, region, key
        algorithm, tags, in use, serial."""
        return self.acm.certificates(region, account)

    # ----- HTTP -----
    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.path.startswith(CONTROL_PREFIX):
            response = self._control(request)
        elif request.path == POD_IDENTITY_PATH and request.method == "GET":
            status, body = self.pod_identity.handle(request.headers.get("Authorization"))
            response = Response(body, status, content_type="application/json")
        else:
            try:
                response = self._api(request)
            except DropConnection:
                _drop(environ)
                response = Response(b"", status=500)
        return response(environ, start_response)

    def _api(self, request: Request) -> Response:
        access_key, service = credential_of(request)
        # AssumeRoleWithWebIdentity comes unsigned: only its form body says it is STS.
        if service == "sts" or request.mimetype == "application/x-www-form-urlencoded":
            return self._sts(access_key, request)
        try:
            account = self.sts.account_of(access_key)
        except StsError as err:
            body = {"__type": err.code, "message": err.message}
            return Response(json.dumps(body), err.status, content_type=_JSON_TYPE)
        target = request.headers.get("X-Amz-Target", "")
        api = target.split(".", 1)[1] if target.startswith("CertificateManager.") else target
        handler = None
        region = region_of_request(request)
        if target.startswith(TARGET_PREFIX):
            api = target[len(TARGET_PREFIX) :]
            handler = self.tagging.handler(self.acm.account(account), api)
            region = tagging_region(request.headers.get("Authorization", "")) or region
        headers = {"x-amzn-RequestId": str(uuid.uuid4())}
        try:
            params = json.loads(request.get_data() or b"{}")
            if not isinstance(params, dict):
                raise ValueError
        except ValueError:
            body = {"__type": "SerializationException", "message": "Body is not a JSON object"}
            return Response(json.dumps(body), 400, headers, content_type=_JSON_TYPE)
        try:
            result = self.acm.account(account).handle(region, api, params, handler)
        except AcmError as err:
            body = {"__type": err.error_type, "message": err.message}
            return Response(json.dumps(body), err.status, headers, content_type=_JSON_TYPE)
        # Latency after the call took effect and outside the backend's lock: other calls go on.
        if delay := self.acm.faults.latency(region, api, params):
            time.sleep(delay)
        return Response(json.dumps(result), 200, headers, content_type=_JSON_TYPE)

    def _sts(self, access_key: str | None, request: Request) -> Response:
        headers = {"x-amzn-RequestId": str(uuid.uuid4())}
        try:
            params = {k: str(v) for k, v in request.form.items()}
            if params.get("Action") == "AssumeRoleWithWebIdentity":
                xml = self.web_identity.handle(params)
            else:
                xml = self.sts.handle(access_key, params)
        except StsError as err:
            return Response(error_xml(err), err.status, headers, content_type="text/xml")
        return Response(xml, 200, headers, content_type="text/xml")

    def _control(self, request: Request) -> Response:
        action = request.path[len(CONTROL_PREFIX) :].strip("/")
        try:
            body = request.get_json(silent=True) or {}
            if request.method == "GET":
                if action == "calls":
                    return _json({"calls": self.calls()})
                if action == "counts":
                    return _json({"counts": self.counts()})
                if action == "certificates":
                    args = request.args
                    certs = self.certificates(args.get("region"), args.get("account"))
                    return _json({"certificates": certs})
                if action == "sessions":
                    return _json({"sessions": self.sessions()})
                if action == "faults":
                    return _json(self.acm.faults.snapshot())
            elif request.method == "POST":
                if action == "reset":
                    self.reset()
                elif action == "rates":
                    self.set_rates(dict(body.get("rates", {})))
                elif action == "regions":
                    self.add_regions([str(r) for r in body.get("regions", [])])
                elif action == "quota":
                    self.set_import_quota(body.get("import_quota"))
                elif action == "in-use":
                    self.set_in_use(
                        str(body["arn"]), bool(body.get("in_use", True)), int(body.get("users", 1))
                    )
                elif action == "faults/lose-import-response":
                    self.lose_import_responses(int(body.get("count", 1)), body.get("region"))
                elif action == "faults/fail":
                    self.fail_next(
                        int(body.get("count", 1)),
                        status=int(body.get("status", 500)),
                        error=str(body.get("error", "InternalFailure")),
                        api=body.get("api"),
                        region=body.get("region"),
                    )
                elif action == "faults/lose-responses":
                    self.acm.faults.lose_responses(
                        int(body.get("count", 1)), api=body.get("api"), region=body.get("region")
                    )
                elif action == "faults/fail-after-commit":
                    self.acm.faults.fail_after_commit(
                        int(body.get("count", 1)),
                        status=int(body.get("status", 500)),
                        error=str(body.get("error", "InternalFailure")),
                        api=body.get("api"),
                        region=body.get("region"),
                    )
                elif action == "faults/latency":
                    self.acm.faults.add_latency(
                        int(body.get("count", 1)),
                        float(body.get("seconds", 1.0)),
                        api=body.get("api"),
                        region=body.get("region"),
                    )
                elif action == "roles":
                    for arn, external_id in dict(body.get("trust", {})).items():
                        self.trust_role(str(arn), external_id)
                    for arn in body.get("distrust", []):
                        self.distrust_role(str(arn))
                elif action == "web-identity":
                    self.web_identity.configure(body)
                elif action == "pod-identity":
                    self.pod_identity.configure(body)
                elif action == "sts/expire-sessions":
                    self.sts.expire_sessions()
                elif action == "tagging/deny":
                    self.deny_tagging(bool(body.get("denied", True)), body.get("account"))
                elif action == "faults/region-down":
                    self.set_region_down(str(body["region"]), bool(body.get("down", True)))
                else:
                    return _json({"error": f"unknown control action {action!r}"}, 404)
                return _json({"ok": True})
            return _json({"error": f"unknown control action {action!r}"}, 404)
        except (KeyError, TypeError, ValueError) as err:
            return _json({"error": f"bad control request: {err}"}, 400)
        except AcmError as err:
            return _json({"error": err.message, "type": err.error_type}, 400)


def _drop(environ: dict[str, Any]) -> None:
    """Close the client connection so that it sees no response at all."""
    sock = environ.get("werkzeug.socket")
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
