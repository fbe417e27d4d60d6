"""The application checks its access rules against its routes at start (``require_rules``,
``install_console``) from the routes as declared (``declared_routes``), not from FastAPI's effective
route contexts, which build every route's dependency model first (0.6-1 s of CPU per application):
both must name the same (method, path) pairs, or a rule could be checked against a path nobody
serves."""

from __future__ import annotations

import resource
from pathlib import Path

from fastapi.routing import APIRoute, iter_route_contexts

from moorage.api.console.route import ConsoleRoute
from moorage.api.management_route import ManagementRoute
from moorage.api.route_inventory import declared_routes
from moorage.app import create_app
from moorage.settings import Settings


def _served(app: object, kind: type[APIRoute]) -> set[tuple[str, str]]:
    return {
        (method, context.path)
        for context in iter_route_contexts(app.routes)  # type: ignore[attr-defined]
        if isinstance(context.original_route, kind)
        for method in context.original_route.methods or ()
    }


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def test_declared_routes_are_the_served_ones(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path))
    for kind, at_least in ((ManagementRoute, 300), (ConsoleRoute, 40)):
        declared = declared_routes(app.routes, kind)
        assert len(declared) >= at_least
        assert declared == _served(app, kind)


def test_building_an_application_leaves_route_models_to_first_use(tmp_path: Path) -> None:
    create_app(Settings(data_dir=tmp_path / "warm"))  # module-level work (imports, schemas) done
    started = _cpu()
    app = create_app(Settings(data_dir=tmp_path / "measured"))
    built = _cpu() - started
    started = _cpu()
    _served(app, ManagementRoute)  # what create_app did before: every route's model built
    models = _cpu() - started
    # Measured: 0.05-0.1 s to build, 0.7-1.0 s more for the models.
    assert built < models / 2, (built, models)
