"""Shared-edition image synchronisation (SWR's CreateImageSyncRepo, CreateManualImageSyncRepo,
ShowSyncJob and siblings): a repository's rules naming a peer site (``remote_region_id``, one of
``MOORAGE_SYNC__PEERS``) and a namespace there, and the jobs that copy one tag each."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from moorage.domain.errors import Invalid

_NAMESPACE = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")


class SyncStatus(StrEnum):
    """A sync job's status, in SWR's words."""

    WAITING = "waiting"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    TIMEOUT = "timeout"
    CANCEL = "cancel"
    EXISTED = "existed"
    """The peer's tag names another image and the job may not override it: nothing was copied."""


@dataclass(frozen=True, slots=True)
class SyncRule:
    """One repository's synchronisation to one namespace of one peer."""

    id: int
    repository_id: int
    domain_id: str
    domain_name: str
    namespace: str
    repo_name: str
    """The repository's name inside its namespace (SWR's ``repo_name``)."""
    remote_region_id: str
    remote_namespace: str
    sync_auto: bool
    override: bool
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class SyncJob:
    """One tag copied (or to be copied) to one peer."""

    id: int
    repository_id: int
    domain_id: str
    domain_name: str
    namespace: str
    repo_name: str
    tag: str
    remote_region_id: str
    remote_namespace: str
    override: bool
    status: SyncStatus
    operator_id: str
    operator_name: str
    detail: str
    """What the last attempt found (an error in general terms, or the copy's figures)."""
    job_id: str
    created_at: int
    updated_at: int


def validate_remote_namespace(text: str) -> str:
    """A namespace at the peer: SWR's organization grammar (lower case, 1-64 characters)."""
    if not 1 <= len(text) <= 64 or not _NAMESPACE.match(text):
        raise Invalid(f"remoteNamespace {text[:80]!r} is not a valid organization name", reason="invalid_parameter")
    return text
