"""The Enterprise Edition management API (``/v2/{project_id}/instances/...``), one module per
resource, and virtual hosting. ``ROUTERS`` is in inclusion order: the repositories router, whose
routes end in a repository name that may contain ``/``, comes last."""

from __future__ import annotations

from fastapi import APIRouter

from moorage.api.enterprise import (
    artifact_scans,
    artifacts,
    gc,
    instances,
    namespaces,
    repositories,
    sign_executions,
    sign_policies,
    signing_keys,
)

ROUTERS: tuple[APIRouter, ...] = (instances.router, namespaces.router, signing_keys.router, sign_policies.router,
                                  sign_executions.router, gc.router, artifact_scans.router, artifacts.router,
                                  repositories.router)
