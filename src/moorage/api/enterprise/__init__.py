"""The Enterprise Edition management API (``/v2/{project_id}/instances/...``), one module per
resource, and virtual hosting. ``MODULES`` is in inclusion order: the repositories router, whose
routes end in a repository name that may contain ``/``, comes last. Each module has its ``router``
and the ``ACCESS_RULES`` of its routes."""

from __future__ import annotations

from fastapi import APIRouter

from moorage.api.enterprise import (
    artifact_scans,
    artifacts,
    audit_logs,
    gc,
    immutable_rules,
    instances,
    namespaces,
    replication,
    repositories,
    retention_policies,
    sign_executions,
    sign_policies,
    signing_keys,
    webhooks,
)
from moorage.api.management_rules import RouterModule

MODULES: tuple[RouterModule, ...] = (
    instances,
    namespaces,
    signing_keys,
    sign_policies,
    sign_executions,
    gc,
    artifact_scans,
    artifacts,
    immutable_rules,
    audit_logs,
    webhooks,
    retention_policies,
    replication,
    repositories,
)
ROUTERS: tuple[APIRouter, ...] = tuple(module.router for module in MODULES)
