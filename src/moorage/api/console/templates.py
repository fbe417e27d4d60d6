"""The console's Jinja2 templates (autoescaped: every value a template prints is escaped) and the
filters they share. One environment per application, built by ``create_app``."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

if TYPE_CHECKING:
    from moorage.api.console.route import Visit

NAVIGATION = (
    ("Registry", (("overview", "Overview", "/console/"), ("orgs", "Organizations", "/console/orgs"))),
    ("Image security", (("security", "Images and findings", "/console/security"),)),
    (
        "Enterprise",
        (
            ("instances", "Instances", "/console/enterprise"),
            ("retention", "Retention", "/console/enterprise?section=retention"),
            ("gc", "Garbage collection", "/console/enterprise?section=gc"),
            ("replication", "Replication", "/console/enterprise?section=replication"),
            ("webhooks", "Webhooks", "/console/enterprise?section=webhooks"),
            ("audit", "Audit logs", "/console/enterprise?section=audit"),
        ),
    ),
    ("Administration", (("users", "Users and access keys", "/console/admin/users"),)),
)
"""Sections and pages of the side navigation; a page without an address is planned (shown, not linked).
The Enterprise operations pages are per instance: their entries list the instances, each linked to
that page of it."""


def human_size(value: int | None) -> str:
    """``12.3 MiB``."""
    size = float(value or 0)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def when(epoch_ms: int | None) -> str:
    """Milliseconds since the epoch as ``2026-12-06 19:30:05 UTC`` (empty for none)."""
    if not epoch_ms:
        return ""
    return datetime.datetime.fromtimestamp(epoch_ms / 1000, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def path_segment(repository: str) -> str:
    """A repository name as one path segment (``$`` for ``/``, as the SWR API writes it)."""
    return repository.replace("/", "$")


def web_url(value: str) -> str:
    """``value`` when it is an http(s) address, else empty (an advisory's link is shown only then)."""
    return value if value.lower().startswith(("https://", "http://")) else ""


def build_templates() -> Environment:
    """The environment (templates are read from the package and compiled once)."""
    env = Environment(
        loader=PackageLoader("moorage.api.console", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["size"] = human_size
    env.filters["when"] = when
    env.filters["segment"] = path_segment
    env.filters["web_url"] = web_url
    env.globals["navigation"] = NAVIGATION
    return env


def render(
    request: Request, name: str, visit: Visit, context: dict[str, Any], *, status: int = 200, section: str = ""
) -> HTMLResponse:
    """A page: the template ``name`` with the visit (user, CSRF token) and ``context``."""
    env: Environment = request.app.state.console_templates
    html = env.get_template(name).render(visit=visit, section=section, **context)
    return HTMLResponse(html, status_code=status)
