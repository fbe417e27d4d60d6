"""The management routes the application serves and the access rule of each: the routers in the order
they are included, their rules merged, and the check at start that every route has a rule and every
rule a route (console pages included). A route nobody decided about must not be served."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from moorage.api import console, enterprise, unserved
from moorage.api.console import assets as console_assets
from moorage.api.console.route import ConsoleRoute
from moorage.api.console.templates import build_templates
from moorage.api.hss import baseline as hss_baseline
from moorage.api.hss import cicd as hss_cicd
from moorage.api.hss import image_details as hss_image_details
from moorage.api.hss import images as hss_images
from moorage.api.hss import policies as hss_policies
from moorage.api.hss import registries as hss_registries
from moorage.api.hss import reports as hss_reports
from moorage.api.hss import tasks as hss_tasks
from moorage.api.hss import vulnerabilities as hss_vulnerabilities
from moorage.api.hss import vulnerability_handling as hss_vulnerability_handling
from moorage.api.hss import whitelists as hss_whitelists
from moorage.api.iam import tokens as iam_tokens
from moorage.api.iam import users as iam_users
from moorage.api.management_route import ManagementRoute
from moorage.api.management_rules import AccessRuleError, AccessRules, RouterModule, merge_access_rules
from moorage.api.swr import account as swr_account
from moorage.api.swr import image_sync as swr_image_sync
from moorage.api.swr import login as swr_login
from moorage.api.swr import namespaces as swr_namespaces
from moorage.api.swr import repositories as swr_repositories
from moorage.api.swr import retentions as swr_retentions
from moorage.api.swr import sharing as swr_sharing
from moorage.api.swr import tags as swr_tags
from moorage.api.swr import triggers as swr_triggers


def management_api() -> tuple[tuple[APIRouter, ...], AccessRules]:
    """The management routers in inclusion order, and their access rules merged (``AccessRuleError``
    when two modules rule one route). Read from the router modules on each call: nothing is
    registered at import time."""
    modules: tuple[RouterModule, ...] = (
        iam_tokens,
        iam_users,
        swr_login,
        swr_namespaces,
        swr_repositories,
        swr_retentions,
        swr_tags,
        swr_triggers,
        swr_image_sync,
        swr_sharing,
        hss_images,
        hss_cicd,  # before hss_vulnerabilities: /image/{vul_id}/images would take /image/cicd/images
        hss_registries,
        hss_tasks,
        hss_policies,
        # the image-security details after part one's (``/image/{image_id}/...`` would shadow them)
        hss_baseline,
        hss_reports,
        hss_whitelists,
        hss_vulnerabilities,
        hss_vulnerability_handling,
        hss_image_details,
        *enterprise.MODULES,
        swr_account,
    )  # its GET /{api_version} takes any one-segment path
    unserved_first, unserved_last = unserved.unserved_routers()  # see api/unserved.py for the order
    routers = (
        unserved_first,
        *(module.router for module in modules),
        unserved_last,
    )  # last: served requests never match against these
    return routers, merge_access_rules((unserved.ACCESS_RULES, *(module.ACCESS_RULES for module in modules)))


def declared_routes(routes: Sequence[BaseRoute], kind: type[APIRoute]) -> set[tuple[str, str]]:
    """(method, path) of every route of ``kind`` among ``routes`` and the routers included in them,
    as declared. FastAPI's ``iter_route_contexts`` says the same but builds every route's dependency
    model on the way (signatures, pydantic adapters): 0.6-1 s of CPU per application, paid before
    serving by every HTTP worker and every in-process test server, where otherwise a route's model
    is built when it is first used. Routers are included without a prefix, so the declared path is
    the served one (tests/api/test_route_inventory.py holds the two to the same answer)."""
    found: set[tuple[str, str]] = set()
    pending = list(routes)
    while pending:
        route = pending.pop()
        included = getattr(route, "original_router", None)  # fastapi.routing._IncludedRouter
        if isinstance(included, APIRouter):
            pending.extend(included.routes)
        elif isinstance(route, kind):
            found.update((method, route.path) for method in route.methods or ())
    return found


def require_rules(app: FastAPI, rules: AccessRules) -> AccessRules:
    """``rules``, once every management route of ``app`` has one and every rule has its route
    (``AccessRuleError`` otherwise: a route nobody decided about, or a rule for a path that moved)."""
    served = declared_routes(app.routes, ManagementRoute)
    unruled = sorted(served - rules.keys())
    if unruled:
        raise AccessRuleError(f"management routes without an access rule: {unruled}")
    stray = sorted(rules.keys() - served)
    if stray:
        raise AccessRuleError(f"access rules for routes that do not exist: {stray}")
    return rules


def install_console(app: FastAPI) -> None:
    """Serve the web console: its pages (each with its rule: ``AccessRuleError`` for a console route
    without one), templates, static files, and ``/`` sending a browser there."""
    rules = merge_access_rules(tuple(module.CONSOLE_RULES for module in console.MODULES))
    for module in console.MODULES:
        app.include_router(module.router)
    app.include_router(console_assets.router)
    served = declared_routes(app.routes, ConsoleRoute)
    if served != set(rules):
        raise AccessRuleError(f"console routes and rules differ: {sorted(served ^ set(rules))}")
    app.state.console_rules = rules
    app.state.console_templates = build_templates()
    app.state.console_assets = console_assets.load_assets()
