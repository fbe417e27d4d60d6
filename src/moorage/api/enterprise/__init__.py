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
    credentials,
    endpoint_policies,
    gc,
    immutable_rules,
    instances,
    namespaces,
    project_tags,
    replication,
    repositories,
    resource_tags,
    retention_policies,
    sign_executions,
    sign_policies,
    signing_keys,
    webhooks,
)
from moorage.api.management_rules import RouterModule

MODULES: tuple[RouterModule, ...] = (
    project_tags,  # before ShowInstance's /instances/{instance_id} takes /instances/tags
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
    credentials,
    endpoint_policies,
    retention_policies,
    replication,
    repositories,
    resource_tags,  # last: its paths are all parameters
)
ROUTERS: tuple[APIRouter, ...] = tuple(module.router for module in MODULES)
