"""Exception handlers of the management routes: every error leaves in the dialect of its route
(SWR, Enterprise Edition, HSS or IAM), including FastAPI's own validation errors and 404/405s."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from moorage.api.errors import management_error_response
from moorage.domain import errors as e

log = logging.getLogger(__name__)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        if err.get("type") == "json_invalid":
            # FastAPI's JSON errors keep the reason (a syntax error, JSON nested too deep) in ctx.
            parts.append(f"the body is not acceptable JSON: {err.get('ctx', {}).get('error', 'invalid')}")
            continue
        where = ".".join(str(x) for x in err.get("loc", ()) if x != "body")
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(e.MoorageError)
    async def _domain(request: Request, exc: e.MoorageError) -> Response:
        return management_error_response(exc, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return management_error_response(e.Invalid(_validation_message(exc)), request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        error: e.MoorageError
        if exc.status_code == 404:
            error = e.NotFound(f"no such resource: {request.url.path[:200]}", reason="route_not_found")
        elif exc.status_code == 405:
            error = e.Unsupported(f"{request.method} is not allowed on {request.url.path}")
        elif exc.status_code in (401, 403):
            error = e.Denied(str(exc.detail))
        elif exc.status_code == 413:
            error = e.TooLarge(str(exc.detail))
        else:
            error = e.Invalid(str(exc.detail))
        if request.url.path.startswith("/console/") and hasattr(request.app.state, "console_templates"):
            from moorage.api.console.route import console_error  # the console imports this module

            return console_error(request, error)
        return management_error_response(error, request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return management_error_response(e.MoorageError("internal error"), request.url.path)
