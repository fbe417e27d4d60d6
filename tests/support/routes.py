"""The management routes of an application, nested routers included (FastAPI keeps included routers
nested, so ``app.routes`` alone lists almost nothing)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

INFRASTRUCTURE = {"/healthz", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/service/token"}


def is_console_path(path: str) -> bool:
    """The web console's pages (and ``/``, which sends a browser there): ruled by their
    ``CONSOLE_RULES`` (create_app checks every one has one), answered in HTML."""
    return path.startswith("/console/") or path == "/"


def management_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path template) of every management route ``app`` serves."""
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if (
            isinstance(route, APIRoute)
            and context.path
            and context.path not in INFRASTRUCTURE
            and not is_console_path(context.path)
        ):
            found.extend((method, context.path) for method in sorted(route.methods))
    assert len(found) > 10, f"too few routes found: {found}"  # the enumeration itself must not go blind
    return found
