"""How the emulator answers: compact JSON bodies and ``Status`` errors, as the API server does."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from acm_sync_testbed.emulators.kube.errors import ApiError


def json_response(
    body: Any, status: int = 200, content_type: str = "application/json"
) -> web.Response:
    """Compact JSON, as the API server answers."""
    return web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(),
        status=status,
        headers={"Content-Type": content_type},
    )


def error_response(error: ApiError) -> web.Response:
    """A ``Status`` body with the error's HTTP code."""
    response = json_response(error.status(), error.code)
    if error.code == 429:
        response.headers["Retry-After"] = "1"
    return response
