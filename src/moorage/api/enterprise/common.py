"""What every Enterprise Edition router shares: the path prefixes, time formatting, paging and
boolean query parameters, and the ``metadata`` strings of namespaces."""

from __future__ import annotations

import datetime

from moorage.domain.enterprise import PageRequest
from moorage.domain.errors import Invalid
from moorage.services.enterprise.paging import page_request

INSTANCES = "/v2/{project_id}/instances"
INSTANCE = INSTANCES + "/{instance_id}"
NAMESPACE = INSTANCE + "/namespaces/{namespace_name}"
REPOSITORY = NAMESPACE + "/repositories/{repository_name:path}"
ARTIFACT = REPOSITORY + "/artifacts/{reference}"
POLICIES = NAMESPACE + "/signature/policies"
POLICY = POLICIES + "/{policy_id}"
EXECUTION = POLICY + "/executions/{execution_id}"


def timestamp(ms: int | None) -> str:
    """Epoch milliseconds as RFC 3339 UTC with milliseconds (``2025-09-26T08:00:00.123Z``); "" for None."""
    if ms is None:
        return ""
    moment = datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def page(offset: int | None, limit: int | None) -> PageRequest:
    """The validated page of a listing (the rules ListInstanceSignatureExecutionSubtasks documents)."""
    return page_request(offset, limit)


def flag(value: str | None, name: str) -> bool | None:
    """A ``true``/``false`` string of the API (None when absent)."""
    if value is None or value == "":
        return None
    lowered = value.lower()
    if lowered not in ("true", "false"):
        raise Invalid(f"{name} must be true or false, got {value!r}")
    return lowered == "true"


def text_flag(value: bool) -> str:
    """A boolean as the API's ``"true"``/``"false"`` string."""
    return "true" if value else "false"


def repository_path_name(value: str) -> str:
    """A repository name from a path (``$`` stands for ``/``, as in the shared edition's API)."""
    return value.replace("$", "/")
