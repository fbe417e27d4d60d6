"""The web console under ``/console/`` (docs/console.md): server-rendered pages over the same
services the APIs call, with the signed-in user's permissions. Each page module has a router whose
routes are ``ConsoleRoute`` and a ``CONSOLE_RULES`` mapping; ``create_app`` merges the rules and
refuses to start when a console route has none."""

from __future__ import annotations

from moorage.api.console import (
    pages_actions,
    pages_admin,
    pages_auth,
    pages_enterprise,
    pages_operations,
    pages_registry,
    pages_security,
)

MODULES = (pages_auth, pages_registry, pages_security, pages_enterprise, pages_operations, pages_actions, pages_admin)
"""The page modules, in router inclusion order."""
