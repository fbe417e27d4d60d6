"""docs/api-coverage-hss.md stays true: it lists every HSS image operation exactly once, and every
operation it calls moorage's is served by the application with an access rule."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.routing import APIRoute, iter_route_contexts

from moorage.app import create_app
from moorage.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = Path("/work/shared/api/hss-image-operations.txt")
ROW = re.compile(r"^\| (GET|POST|PUT|DELETE) \| `([^`]+)` \| `([a-z_]+)` \| (.+) \|$")


def _documented() -> list[tuple[str, str, str, str]]:
    text = (ROOT / "docs" / "api-coverage-hss.md").read_text()
    return [m.groups() for line in text.splitlines() if (m := ROW.match(line))]  # type: ignore[misc]


def test_every_operation_is_listed_once() -> None:
    documented = [(method, path, name) for method, path, name, _state in _documented()]
    assert len(documented) == len(set(documented))
    if OPERATIONS.exists():  # the shared list, when this checkout sits beside it
        listed = {
            tuple(line.split())
            for line in OPERATIONS.read_text().splitlines()
            if line.strip() and not line.startswith("#")
        }
        assert listed == set(documented)


def test_operations_marked_moorage_are_served_with_a_rule(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path))
    served = {
        (method, context.path)
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
        for method in context.original_route.methods
    }
    ours = [(method, path) for method, path, _name, state in _documented() if state.startswith("moorage")]
    assert len(ours) == 18 + 46 + 7  # hss-core, hss-details, hss-cicd
    for route in ours:
        assert route in served, route
        assert route in app.state.access_rules, route
