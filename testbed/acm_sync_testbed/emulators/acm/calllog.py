"""The emulator's call log: what each API call was, never what it carried."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Call:
    """One API call as the emulator saw it (no parameter values: they may hold a key)."""

    seq: int
    time: float
    region: str
    api: str
    outcome: str  # "ok" or the error type
    arn: str | None
    params: tuple[str, ...]  # parameter names sent, e.g. ("Certificate", "CertificateArn", ...)
    account: str = ""  # the account the request's credentials act in

    def as_dict(self) -> dict[str, Any]:
        """JSON form for the control API."""
        return {
            "seq": self.seq,
            "time": self.time,
            "region": self.region,
            "api": self.api,
            "outcome": self.outcome,
            "arn": self.arn,
            "params": list(self.params),
            "account": self.account,
        }
