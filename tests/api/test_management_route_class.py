"""Every management route authorizes before its body is read: each is a ``ManagementRoute`` (the IAM
ones an ``IamRoute``), so a router added without the route class fails here."""

from __future__ import annotations

from pathlib import Path

from fastapi.routing import APIRoute, iter_route_contexts

from moorage.api.console.route import ConsoleRoute
from moorage.api.management_route import IamRoute, ManagementRoute
from moorage.app import create_app
from moorage.settings import Settings
from tests.support.routes import INFRASTRUCTURE


def test_every_management_route_is_admitted_before_its_body_is_read(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path))
    outside = []
    checked = 0
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not context.path or context.path in INFRASTRUCTURE:
            continue
        if context.path.startswith("/console/"):  # HTML pages: ConsoleRoute, ruled by CONSOLE_RULES
            assert isinstance(route, ConsoleRoute) or context.path == "/console/static/{name}", context.path
            continue
        checked += 1
        expected = IamRoute if route.endpoint.__module__.startswith("moorage.api.iam") else ManagementRoute
        if not isinstance(route, expected):
            outside.append((sorted(route.methods), context.path, type(route).__name__))
    assert checked > 100
    assert outside == []
