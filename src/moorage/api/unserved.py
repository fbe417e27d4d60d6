"""Explicit answers for the SDK operations moorage does not serve.

``huaweicloudsdkswr`` and ``huaweicloudsdkhss`` define operations that moorage leaves out: ones that
are *not applicable* to a registry (the Enterprise Edition's internal endpoints, VPC connections
inside Huawei Cloud; HSS's hosts, containers and clusters). *Planned* is the other availability, for
an operation not built yet; none is left today.
Each gets a route of its own answering 501 with one distinctive error (``NotServed``: SWR
``SVCSTG.SWR.5010001`` planned / ``SVCSTG.SWR.5010002`` not applicable, HSS ``HSS.0501`` /
``HSS.0502``), so that a literal path such as ``GET /v5/{project_id}/image/local/apps`` is never
captured by a parametrised route of another operation and answered as
if it were that one. Those few (``shadowed``) are included before every other management router;
the rest after them, so served requests do not pay for matching every unserved path first
(``unserved_routers``; a test checks that exactly the shadowed ones would be captured).

The table mirrors the "planned" and "not applicable" rows of docs/api-coverage.md and
docs/api-coverage-hss.md (a test keeps them equal, another walks every SDK operation).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from fastapi import APIRouter, Depends

from moorage.api.deps import authorize
from moorage.api.management_route import ManagementRoute
from moorage.api.management_rules import AUTHENTICATED, access_rules
from moorage.domain.errors import NotServed


class Availability(StrEnum):
    """Why an operation is not served."""

    PLANNED = "planned"
    NOT_APPLICABLE = "not_applicable"


@dataclass(frozen=True, slots=True)
class UnservedOperation:
    """One SDK operation moorage answers with ``NotServed``."""

    method: str
    path: str
    """The SDK's resource path, which is also the route's template."""
    operation: str
    """The SDK operation's name (``list_container_images``)."""
    availability: Availability
    topic: str
    """What it belongs to, for the message (``webhooks``; ``containers on hosts and clusters``)."""
    shadowed: bool = False
    """A served route's parameters would take its path: its route must come before every other."""

    def error(self) -> NotServed:
        """The answer: one message shape per availability, defined here only."""
        if self.availability is Availability.PLANNED:
            message = f"{self.operation} is not implemented in moorage yet (planned: {self.topic})"
        else:
            message = f"{self.operation} does not apply to moorage, a registry ({self.topic})"
        return NotServed(
            message,
            detail={"operation": self.operation, "availability": str(self.availability)},
            reason=str(self.availability),
        )


def _not_applicable(method: str, operation: str, topic: str, path: str, *, shadowed: bool = False) -> UnservedOperation:
    return UnservedOperation(method, path, operation, Availability.NOT_APPLICABLE, topic, shadowed)


# What the operations belong to, as the coverage docs name it.
INTERNAL_ENDPOINTS = "internal endpoints: VPC connections exist only inside Huawei Cloud"
HOSTS_VULS = "host vulnerabilities, backups and repairs"
HOST_IMAGES = "images on hosts"
CLUSTERS = "containers on hosts and clusters"
CONTAINERS = "containers"
WEBTAMPER = "web tamper protection of hosts"

UNSERVED: tuple[UnservedOperation, ...] = (
    # huaweicloudsdkswr: not applicable (docs/api-coverage.md, api-coverage-enterprise.md)
    _not_applicable(
        "GET",
        "list_internal_endpoint_connections",
        INTERNAL_ENDPOINTS,
        "/v2/{project_id}/instances/{instance_id}/internal-endpoint/connections",
    ),
    _not_applicable(
        "POST",
        "update_internal_endpoint_connections",
        INTERNAL_ENDPOINTS,
        "/v2/{project_id}/instances/{instance_id}/internal-endpoint/connections/action",
    ),
    _not_applicable(
        "GET",
        "list_internal_endpoint_permissions",
        INTERNAL_ENDPOINTS,
        "/v2/{project_id}/instances/{instance_id}/internal-endpoint/permissions",
    ),
    _not_applicable(
        "POST",
        "update_internal_endpoint_permissions",
        INTERNAL_ENDPOINTS,
        "/v2/{project_id}/instances/{instance_id}/internal-endpoint/permissions/action",
    ),
    _not_applicable(
        "POST",
        "create_instance_internal_endpoint",
        INTERNAL_ENDPOINTS,
        "/v2/{project_id}/instances/{instance_id}/internal-endpoints",
    ),
    _not_applicable(
        "GET",
        "list_instance_internal_endpoints",
        INTERNAL_ENDPOINTS,
        "/v2/{project_id}/instances/{instance_id}/internal-endpoints",
    ),
    _not_applicable(
        "DELETE",
        "delete_instance_internal_endpoint",
        INTERNAL_ENDPOINTS,
        "/v2/{project_id}/instances/{instance_id}/internal-endpoints/{internal_endpoints_id}",
    ),
    _not_applicable(
        "GET",
        "show_instance_internal_endpoint",
        INTERNAL_ENDPOINTS,
        "/v2/{project_id}/instances/{instance_id}/internal-endpoints/{internal_endpoints_id}",
    ),
    # huaweicloudsdkhss: not applicable (docs/api-coverage-hss.md)
    _not_applicable("GET", "list_container_image_logs", CLUSTERS, "/v5/{project_id}/container/image/events"),
    _not_applicable("GET", "list_container_images", CLUSTERS, "/v5/{project_id}/container/images"),
    _not_applicable(
        "GET",
        "show_multi_cloud_cluster_image_command",
        CLUSTERS,
        "/v5/{project_id}/container/kubernetes/multi-cloud/image-upload-command",
    ),
    _not_applicable("GET", "list_image_local", HOST_IMAGES, "/v5/{project_id}/image/local-repositories"),
    _not_applicable(
        "POST", "batch_export_local_vul_task", HOST_IMAGES, "/v5/{project_id}/image/local-vulnerability/export"
    ),
    _not_applicable(
        "GET", "list_local_image_app_info", HOST_IMAGES, "/v5/{project_id}/image/local/apps", shadowed=True
    ),  # not list_image_apps
    _not_applicable("POST", "batch_scan_local_image", HOST_IMAGES, "/v5/{project_id}/image/local/batch-scan"),
    _not_applicable("GET", "list_local_image_containers", CLUSTERS, "/v5/{project_id}/image/local/containers"),
    _not_applicable("GET", "list_local_image_hosts", HOST_IMAGES, "/v5/{project_id}/image/local/hosts"),
    _not_applicable(
        "GET",
        "list_vul_affect_image_containers",
        CONTAINERS,
        "/v5/{project_id}/image/vulnerability/{image_id}/containers",
    ),
    _not_applicable(
        "POST", "show_vul_backup_statistics", HOSTS_VULS, "/v5/{project_id}/vulnerability/backup-statistics"
    ),
    _not_applicable("GET", "list_vul_host_backups", HOSTS_VULS, "/v5/{project_id}/vulnerability/backup/backups"),
    _not_applicable("GET", "list_vul_host_vaults", HOSTS_VULS, "/v5/{project_id}/vulnerability/backup/host-vaults"),
    _not_applicable(
        "PUT", "restore_vul_host_backup", HOSTS_VULS, "/v5/{project_id}/vulnerability/backup/{backup_id}/restore"
    ),
    _not_applicable("GET", "show_cms_vul_detail", HOSTS_VULS, "/v5/{project_id}/vulnerability/cms-detail"),
    _not_applicable("GET", "list_vul_container_apps", CONTAINERS, "/v5/{project_id}/vulnerability/container/apps"),
    _not_applicable("GET", "list_vul_containers", CONTAINERS, "/v5/{project_id}/vulnerability/containers"),
    _not_applicable("GET", "list_vul_handle_history", HOSTS_VULS, "/v5/{project_id}/vulnerability/handle-history"),
    _not_applicable(
        "POST", "export_vul_handle_history", HOSTS_VULS, "/v5/{project_id}/vulnerability/handle-history/export-task"
    ),
    _not_applicable("GET", "list_handle_vuls", HOSTS_VULS, "/v5/{project_id}/vulnerability/handle/vulnerabilities"),
    _not_applicable(
        "POST", "export_handled_vulnerabilities", HOSTS_VULS, "/v5/{project_id}/vulnerability/history/export-task"
    ),
    _not_applicable(
        "GET", "list_vul_host_vuls", HOSTS_VULS, "/v5/{project_id}/vulnerability/host-vulnerability/vulnerabilities"
    ),
    _not_applicable("GET", "list_vul_host_hosts", HOSTS_VULS, "/v5/{project_id}/vulnerability/host/hosts"),
    _not_applicable("GET", "list_host_vuls", HOSTS_VULS, "/v5/{project_id}/vulnerability/host/{host_id}"),
    _not_applicable("GET", "list_vul_hosts", HOSTS_VULS, "/v5/{project_id}/vulnerability/hosts"),
    _not_applicable("GET", "show_linux_vul_detail", HOSTS_VULS, "/v5/{project_id}/vulnerability/linux-detail"),
    _not_applicable("POST", "list_vul_repair_cmds", HOSTS_VULS, "/v5/{project_id}/vulnerability/repair-cmds"),
    _not_applicable("POST", "show_vul_report_data", HOSTS_VULS, "/v5/{project_id}/vulnerability/report/data"),
    _not_applicable("PUT", "change_vul_scan_policy", HOSTS_VULS, "/v5/{project_id}/vulnerability/scan-policy"),
    _not_applicable("GET", "show_vul_scan_policy", HOSTS_VULS, "/v5/{project_id}/vulnerability/scan-policy"),
    _not_applicable("POST", "create_vulnerability_scan_task", HOSTS_VULS, "/v5/{project_id}/vulnerability/scan-task"),
    _not_applicable(
        "GET", "list_vul_scan_task_host", HOSTS_VULS, "/v5/{project_id}/vulnerability/scan-task/{task_id}/hosts"
    ),
    _not_applicable("GET", "list_vul_scan_task", HOSTS_VULS, "/v5/{project_id}/vulnerability/scan-tasks"),
    _not_applicable(
        "POST",
        "show_vul_scan_task_estimated_time",
        HOSTS_VULS,
        "/v5/{project_id}/vulnerability/scan/task/estimated-time",
    ),
    _not_applicable(
        "PUT", "recreate_vul_scan_task", HOSTS_VULS, "/v5/{project_id}/vulnerability/scan/task/{task_id}/rescan"
    ),
    _not_applicable("GET", "show_vul_statics", HOSTS_VULS, "/v5/{project_id}/vulnerability/statistics"),
    _not_applicable(
        "GET", "show_vul_affected_statics", HOSTS_VULS, "/v5/{project_id}/vulnerability/statistics/affected"
    ),
    _not_applicable("PUT", "change_vul_status", HOSTS_VULS, "/v5/{project_id}/vulnerability/status"),
    _not_applicable("GET", "show_vul_task_statistics", HOSTS_VULS, "/v5/{project_id}/vulnerability/task/statistics"),
    _not_applicable("POST", "record_user_view_vul_task", HOSTS_VULS, "/v5/{project_id}/vulnerability/task/user/trace"),
    _not_applicable(
        "GET", "list_urgent_vulnerabilities", HOSTS_VULS, "/v5/{project_id}/vulnerability/urgent-vulnerabilities"
    ),
    _not_applicable("GET", "list_vulnerabilities", HOSTS_VULS, "/v5/{project_id}/vulnerability/vulnerabilities"),
    _not_applicable("POST", "add_vul_white_list", HOSTS_VULS, "/v5/{project_id}/vulnerability/white-list"),
    _not_applicable("DELETE", "delete_vul_white_list", HOSTS_VULS, "/v5/{project_id}/vulnerability/white-list"),
    _not_applicable(
        "GET",
        "list_vul_white_list_vul_options",
        HOSTS_VULS,
        "/v5/{project_id}/vulnerability/white-list/vulnerability-options",
    ),
    _not_applicable("PUT", "change_vul_white_list", HOSTS_VULS, "/v5/{project_id}/vulnerability/white-list/{id}"),
    _not_applicable("GET", "show_vul_white_list_detail", HOSTS_VULS, "/v5/{project_id}/vulnerability/white-list/{id}"),
    _not_applicable("GET", "list_vul_white_list", HOSTS_VULS, "/v5/{project_id}/vulnerability/white-lists"),
    _not_applicable("GET", "show_windows_vul_detail", HOSTS_VULS, "/v5/{project_id}/vulnerability/windows-detail"),
    _not_applicable("GET", "list_vul_host_apps", HOSTS_VULS, "/v5/{project_id}/vulnerability/{host_id}/apps"),
    _not_applicable(
        "GET", "list_vul_repair_failed_detail", HOSTS_VULS, "/v5/{project_id}/vulnerability/{host_id}/fail-detail"
    ),
    _not_applicable("GET", "list_vul_host_process", HOSTS_VULS, "/v5/{project_id}/vulnerability/{host_id}/process"),
    _not_applicable("GET", "list_web_tamper_image_options", WEBTAMPER, "/v5/{project_id}/webtamper/image-options"),
)


def _answer(operation: UnservedOperation) -> Callable[[], Awaitable[None]]:
    async def not_served() -> None:
        raise operation.error()

    not_served.__name__ = operation.operation
    not_served.__doc__ = operation.error().message
    return not_served


# Any authenticated caller gets the answer (a ``{project_id}`` in the path must still be the caller's).
ACCESS_RULES = access_rules({(operation.method, operation.path): AUTHENTICATED for operation in UNSERVED})


def unserved_routers() -> tuple[APIRouter, APIRouter]:
    """Routes for every operation of ``UNSERVED``: the shadowed ones, to be included before every
    other router, and the rest, to be included after all of them (where the ones whose paths are all
    parameters, ``/v2/{project_id}/{resource_type}/...``, cannot take another operation's path)."""
    first = APIRouter(dependencies=[Depends(authorize)], include_in_schema=False, route_class=ManagementRoute)
    last = APIRouter(dependencies=[Depends(authorize)], include_in_schema=False, route_class=ManagementRoute)
    for operation in UNSERVED:
        router = first if operation.shadowed else last
        router.add_api_route(
            operation.path, _answer(operation), methods=[operation.method], status_code=501, name=operation.operation
        )
    return first, last
