"""Webhook policies (Enterprise Edition), triggers (shared edition) and their deliveries: value types,
the rules their fields follow, and the Harbor-format payload a delivery sends. Pure, no I/O.

The payload is Harbor's (``type``, ``occur_at``, ``operator``, ``event_data.resources`` and
``event_data.repository``), so receivers written for Harbor work unchanged; docs/events.md shows it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from moorage.domain.enterprise import RunStatus, ScopeRule
from moorage.domain.errors import Invalid
from moorage.domain.events import Event, ResourceType, WebhookEventType

SIGNATURE_HEADER = "X-Moorage-Signature-256"
"""``sha256=<hex HMAC-SHA256 of the body keyed with the policy's signing secret>``."""
EVENT_ID_HEADER = "X-Moorage-Event-Id"
DELIVERY_HEADER = "X-Moorage-Delivery"
"""The delivery's id: the same on every retry of one delivery, so a receiver can drop repeats."""
MASK = "******"
"""What show and list answer in place of a stored auth header."""

MAX_TARGETS = 5
MAX_ADDRESS = 2048
MAX_AUTH_HEADER = 4096
MAX_NAME = 256
_NAME = re.compile(r"^[\w-]{1,256}$")
"""Letters (any script, so Chinese too), digits, ``_`` and ``-``, as SWR documents policy names."""
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")
_FORBIDDEN_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "content-type",
        "transfer-encoding",
        "connection",
        SIGNATURE_HEADER.lower(),
        EVENT_ID_HEADER.lower(),
        DELIVERY_HEADER.lower(),
    }
)


class AddressType(StrEnum):
    """SWR's ``address_type``: where the receiver is (informational; the egress policy decides)."""

    INTERNAL = "internal"
    INTERNET = "internet"


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """Where deliveries go. ``auth_header`` is the stored (sealed) form inside the service, the clear
    form only while a delivery is being sent."""

    address: str
    auth_header: str = ""
    skip_cert_verify: bool = False
    address_type: str = AddressType.INTERNET
    type: str = "http"


@dataclass(frozen=True, slots=True)
class WebhookPolicy:
    """A webhook policy of an instance namespace."""

    id: int
    instance_id: str
    namespace_id: int
    namespace_name: str
    name: str
    description: str
    event_types: tuple[str, ...]
    targets: tuple[WebhookTarget, ...]
    scope_rules: tuple[ScopeRule, ...]
    enabled: bool
    creator: str
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class Delivery:
    """One delivery of one event to one target (SWR's webhook ``Job``)."""

    id: int
    instance_id: str
    consumer: str
    """``policy:<id>`` or ``trigger:<id>``."""
    policy_id: int | None
    trigger_id: int | None
    event_id: int
    target_index: int
    event_type: str
    notify_type: str
    address: str
    status: RunStatus
    status_text: str
    payload: str
    attempts: int
    tag: str
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """One HTTP attempt of a delivery."""

    delivery_id: int
    attempt: int
    started_at: int
    duration_ms: int
    status_code: int | None
    error: str
    succeeded: bool


def check_name(name: str) -> str:
    """A policy name as SWR allows it (``Invalid`` otherwise)."""
    if not _NAME.fullmatch(name):
        raise Invalid(f"name must be 1-{MAX_NAME} letters, digits, '_' or '-', got {name[:64]!r}")
    return name


def check_event_types(event_types: Sequence[str]) -> tuple[str, ...]:
    """Known Harbor event types, without repeats (``Invalid`` names an unknown one)."""
    if not event_types:
        raise Invalid("event_types must list at least one event type")
    known = {str(t) for t in WebhookEventType}
    for value in event_types:
        if value not in known:
            raise Invalid(f"unknown event type {value[:64]!r}; known: {', '.join(sorted(known))}")
    return tuple(dict.fromkeys(event_types))


def check_address(address: str) -> str:
    """An absolute http(s) URL with a host and no credentials in it (``Invalid`` otherwise)."""
    if not address or len(address) > MAX_ADDRESS:
        raise Invalid(f"address must be an http or https URL of 1-{MAX_ADDRESS} characters")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in address):
        raise Invalid("address must not contain spaces or control characters")
    try:
        parts = urlsplit(address)
        port = parts.port
    except ValueError as exc:
        raise Invalid(f"address is not a URL: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise Invalid(f"address must be an http or https URL, got scheme {parts.scheme[:16]!r}")
    if not parts.hostname:
        raise Invalid("address must name a host")
    if parts.username is not None or parts.password is not None:
        raise Invalid("address must not carry credentials: give them as auth_header")
    if port == 0:
        raise Invalid("address must not use port 0")
    if parts.fragment:
        raise Invalid("address must not have a fragment")
    return address


def parse_auth_header(value: str) -> dict[str, str]:
    """The headers an ``auth_header`` stands for: SWR's ``key1:value1;key2:value2``, or (without a
    ``:``) the value of ``Authorization`` as Harbor takes it. ``Invalid`` for malformed ones."""
    if not value:
        return {}
    if len(value) > MAX_AUTH_HEADER:
        raise Invalid(f"auth_header is longer than {MAX_AUTH_HEADER} characters")
    if any(c in value for c in "\r\n\0"):
        raise Invalid("auth_header must not contain line breaks or NUL")
    if ":" not in value:
        return {"Authorization": value.strip()}
    headers: dict[str, str] = {}
    for part in value.split(";"):
        if not part.strip():
            continue
        name, colon, content = part.partition(":")
        name = name.strip()
        if not colon or not _HEADER_NAME.fullmatch(name):
            raise Invalid("auth_header must be 'name:value;name:value' with valid header names")
        if name.lower() in _FORBIDDEN_HEADERS:
            raise Invalid(f"auth_header may not set {name!r}")
        headers[name] = content.strip()
    if not headers:
        raise Invalid("auth_header names no header")
    return headers


def check_target(target: WebhookTarget) -> WebhookTarget:
    """A target whose every field is valid (``Invalid`` otherwise)."""
    if target.type != "http":
        raise Invalid(f"target type must be 'http', got {target.type[:32]!r}")
    if target.address_type not in (AddressType.INTERNAL, AddressType.INTERNET):
        raise Invalid(f"address_type must be internal or internet, got {target.address_type[:32]!r}")
    check_address(target.address)
    parse_auth_header(target.auth_header)
    return target


def delivery_summary(status: RunStatus) -> str:
    """A trigger history's ``result`` for a delivery's status (SWR documents success and failed)."""
    if status is RunStatus.SUCCEED:
        return "success"
    if status.finished:
        return "failed"
    return "pending"


def harbor_payload(
    event: Event,
    event_type: WebhookEventType,
    *,
    registry_host: str,
    repository_public: bool,
    repository_created_at: int,
    scan_overview: Mapping[str, Any] | None = None,
) -> str:
    """The body a delivery sends: Harbor's webhook payload for ``event``, as compact JSON.

    ``resource_url`` is ``<registry host>/<repository>:<tag>`` (or ``@<digest>``), ``occur_at`` and
    ``date_created`` are epoch seconds, ``operator`` is the acting user's name."""
    resource: dict[str, Any] = {
        "digest": event.digest,
        "tag": event.tag,
        "resource_url": f"{registry_host}/{_reference(event)}",
    }
    if scan_overview is not None:
        resource["scan_overview"] = dict(scan_overview)
    name = event.repository_name
    if event_type is WebhookEventType.TAG_RETENTION:
        return _dumps(_retention_body(event, registry_host))
    if event_type is WebhookEventType.REPLICATION:
        return _dumps(_replication_body(event, registry_host))
    event_data: dict[str, Any] = {
        "resources": [resource] if event.resource_type is not ResourceType.REPOSITORY or event.digest else [],
        "repository": {
            "date_created": repository_created_at // 1000,
            "name": name,
            "namespace": event.namespace,
            "repo_full_name": event.repository,
            "repo_type": "public" if repository_public else "private",
        },
    }
    if event_type in (WebhookEventType.QUOTA_EXCEED, WebhookEventType.QUOTA_WARNING):
        event_data["custom_attributes"] = {"Details": str(event.detail.get("message", ""))}
    body = {
        "type": str(event_type),
        "occur_at": event.occurred_at // 1000,
        "operator": event.actor.label,
        "event_data": event_data,
    }
    return _dumps(body)


def _dumps(body: Mapping[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"), sort_keys=False)


_JOB_STATUS = {"Succeed": "Success", "Failed": "Failure", "Stopped": "Stopped"}
"""Harbor's ``job_status`` words for an execution's end (one that has just started is ``InProgress``)."""


def _replication_body(event: Event, registry_host: str) -> dict[str, Any]:
    """Harbor's ``REPLICATION`` payload (``event_data.replication``) of an execution that started or
    ended, from the event's detail (the replication runner writes it): this instance is the source of
    a push-based policy and the destination of a pull-based one; the other side is named by its
    registry id (moorage's registries are not Harbor's endpoints)."""
    detail = event.detail
    here = {"registry_type": "moorage", "endpoint": registry_host, "namespace": event.namespace}
    there = {
        "registry_type": "registry",
        "registry_id": detail.get("registry_id"),
        "namespace": str(detail.get("dest_namespace", "")) if detail.get("direction") == "push" else "",
    }
    push = detail.get("direction") == "push"
    reference = f"{event.repository}:{event.tag}" if event.tag else event.repository
    replication = {
        "harbor_hostname": registry_host,
        "job_status": _JOB_STATUS.get(str(detail.get("status", "")), "InProgress"),
        "artifact_type": "image",
        "override_mode": bool(detail.get("override", False)),
        "trigger_type": str(detail.get("trigger", "")).upper(),
        "policy_creator": event.actor.label,
        "execution_timestamp": event.occurred_at // 1000,
        "src_resource": here if push else there,
        "dest_resource": there if push else here,
        "policy_name": str(detail.get("policy_name", "")),
        "policy_id": detail.get("policy_id"),
        "execution_id": detail.get("execution_id"),
    }
    if "status" in detail:
        outcome = "successful_artifact" if detail.get("status") == "Succeed" else "failed_artifact"
        replication[outcome] = [
            {"type": "image", "status": replication["job_status"], "name_tag": reference or "(policy scope)"}
        ]
    return {
        "type": str(WebhookEventType.REPLICATION),
        "occur_at": event.occurred_at // 1000,
        "operator": event.actor.label,
        "event_data": {"replication": replication},
    }


def _retention_body(event: Event, registry_host: str) -> dict[str, Any]:
    """Harbor's ``TAG_RETENTION`` payload: the run's totals and what it deleted (from the event's
    detail, which the retention run writes; ``events.retention_run_event``)."""
    detail = event.detail
    deleted = [
        {
            "type": "image",
            "name_space": event.namespace,
            "repo_name": str(item.get("repository", "")),
            "tag": str(item.get("tag", "")),
            "digest": str(item.get("digest", "")),
            "status": "SUCCESS",
        }
        for item in detail.get("deleted", ())
        if isinstance(item, Mapping)
    ]
    return {
        "type": str(WebhookEventType.TAG_RETENTION),
        "occur_at": event.occurred_at // 1000,
        "operator": event.actor.label,
        "event_data": {
            "retention": {
                "total": int(detail.get("total", 0)),
                "retained": int(detail.get("retained", 0)),
                "HarborHostname": registry_host,
                "ProjectName": event.namespace,
                "RetentionPolicyID": int(detail.get("policy_id", 0)),
                "Status": str(detail.get("status", "")).upper(),
                "deleted_artifact": deleted,
            }
        },
    }


def _reference(event: Event) -> str:
    if event.tag:
        return f"{event.repository}:{event.tag}"
    if event.digest:
        return f"{event.repository}@{event.digest}"
    return event.repository
