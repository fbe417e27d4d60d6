"""Deleting what a retention run decided to delete, the way the registry's own deletes do it (the
same tag and manifest queries, so the repository's counters stay true; the same ``TagProtection``),
each step one transaction on the caller's connection that first re-checks the decision:

- a tag goes only if it still names the manifest the run saw and was not pushed since (its push
  time is unchanged): a tag pushed, moved or re-pushed after the run decided survives;
- an artifact goes only if every tag naming it now is one the run decided on, unchanged;
- nothing an immutable tag rule protects goes (``TagProtection`` refuses it: the step keeps it);
- a manifest goes only once no tag names it and no index of the repository lists it; with it go
  its accessories (signatures, attestations, SBOMs: the manifests whose ``subject`` it is, and
  cosign's ``sha256-<hex>.sig|.att|.sbom`` tags), and the platform manifests of an index that
  nothing else needs. Deleting the subject is what decides: an accessory never goes on its own.

Blob bytes stay: garbage collection frees what no manifest references any more.

Each deletion is an event of the run's transaction (``removal_event``), as the registry's own
deletes are: the audit log names the retention run (system actor, ``detail.by = retention``) as the
one that deleted, and webhooks and replication see a ``DELETE_ARTIFACT``.

On PostgreSQL the re-check runs under row locks, always the manifest's row before its tags' rows,
so a concurrent push either committed before (and the re-check sees it) or waits and finds the tag
gone (the registry's tag write inserts it again: ``queries/manifests.tag``); a push that points a
new tag at a manifest being deleted waits and is then refused (its client pushes again). On SQLite
the write transactions are serial.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.engine import Connection

from moorage.domain.errors import Denied
from moorage.domain.events import NewEvent, Operation, ResourceType, repository_event
from moorage.domain.registry import Repository
from moorage.metadata.queries import enterprise_artifacts as artifacts_q
from moorage.metadata.queries import manifests as manifest_q
from moorage.metadata.queries import retention_candidates as q
from moorage.services.tag_protection import NO_PROTECTION, TagProtection

MAX_DEPTH = 8
"""How deep accessories of accessories and indexes of indexes are followed."""


class Outcome(StrEnum):
    """What one deletion step did."""

    DELETED = "deleted"
    GONE = "gone"
    """Somebody else deleted it first."""
    CHANGED = "changed"
    """Pushed (or tagged) again since the run decided: kept."""
    PROTECTED = "protected"
    """An immutable tag rule protects it: kept."""


@dataclass(frozen=True, slots=True)
class Removal:
    """The outcome of one step, why, and the manifests it deleted (with accessories and children)."""

    outcome: Outcome
    reason: str = ""
    manifests: tuple[str, ...] = ()


class ImageRemoval:
    """The deletion steps of retention runs (see the module docstring)."""

    def __init__(self, protection: TagProtection = NO_PROTECTION) -> None:
        self.protection = protection

    def remove_tag(
        self, conn: Connection, repository: Repository, name: str, *, manifest_id: int, pushed_at: int
    ) -> Removal:
        """Delete one tag as decided; its image goes with it when it was the image's last tag."""
        # The manifest's row first, as every step here locks: a push tagging the manifest meanwhile
        # waits for this transaction, and no push holds what this one waits for (no deadlock).
        q.lock_manifest(conn, repository.id, manifest_id)
        now = q.lock_tag(conn, repository.id, name)
        if now is None:
            return Removal(Outcome.GONE, f"tag {name!r} was deleted meanwhile")
        if now.manifest_id != manifest_id or now.pushed_at != pushed_at:
            return Removal(Outcome.CHANGED, f"tag {name!r} was pushed again after the run decided")
        try:
            self.protection.check_untag(conn, repository, name)
        except Denied as refusal:
            return Removal(Outcome.PROTECTED, refusal.message)
        manifest_q.untag(conn, repository.id, name)
        return Removal(Outcome.DELETED, "", tuple(self._remove_if_unneeded(conn, repository, manifest_id, 0)))

    def remove_artifact(
        self, conn: Connection, repository: Repository, *, manifest_id: int, tags: Mapping[str, int]
    ) -> Removal:
        """Delete an artifact the run decided on with these tags (name -> push time; none for an
        untagged one): its tags, then the manifest unless an index lists it."""
        digest = q.lock_manifest(conn, repository.id, manifest_id)
        if digest is None:
            return Removal(Outcome.GONE, "the artifact was deleted meanwhile")
        current = q.tags_of_manifest(conn, manifest_id, lock=True)
        for state in current:
            if tags.get(state.name) != state.pushed_at:
                return Removal(Outcome.CHANGED, f"tag {state.name!r} was pushed after the run decided")
        try:
            self.protection.check_manifest_removal(conn, repository, digest)
        except Denied as refusal:
            return Removal(Outcome.PROTECTED, refusal.message)
        for state in current:
            manifest_q.untag(conn, repository.id, state.name)
        removed = self._remove_if_unneeded(conn, repository, manifest_id, 0)
        reason = "" if removed else "its tags are deleted; the manifest stays: an index lists it"
        return Removal(Outcome.DELETED, reason, tuple(removed))

    def _remove_if_unneeded(self, conn: Connection, repository: Repository, manifest_id: int, depth: int) -> list[str]:
        """Delete a manifest no tag names and no index lists, with its accessories and the children
        nothing else needs; the digests deleted."""
        digest = q.lock_manifest(conn, repository.id, manifest_id)
        if digest is None or depth > MAX_DEPTH:
            return []
        if q.tags_of_manifest(conn, manifest_id, lock=False) or q.listed_by_an_index(conn, repository.id, digest):
            return []
        try:
            self.protection.check_manifest_removal(conn, repository, digest)
        except Denied:
            return []
        children = q.children(conn, manifest_id)
        removed = self._remove_accessories(conn, repository, digest, depth)
        manifest_q.remove(conn, repository.id, digest)
        removed.append(digest)
        for child in dict.fromkeys(children):
            child_id = q.manifest_id_of(conn, repository.id, child)
            if child_id is not None:
                removed += self._remove_if_unneeded(conn, repository, child_id, depth + 1)
        return removed

    def _remove_accessories(self, conn: Connection, repository: Repository, digest: str, depth: int) -> list[str]:
        """Delete what refers to ``digest`` (its referrers and cosign tags), and their accessories."""
        removed: list[str] = []
        if depth > MAX_DEPTH:
            return removed
        for accessory_id in artifacts_q.referrer_ids(conn, repository.id, digest):
            accessory = artifacts_q.digest_of_manifest(conn, accessory_id)
            if accessory is None or accessory == digest:
                continue
            try:
                self.protection.check_manifest_removal(conn, repository, accessory)
            except Denied:
                continue
            removed += self._remove_accessories(conn, repository, accessory, depth + 1)
            if manifest_q.remove(conn, repository.id, accessory):
                removed.append(accessory)
        return removed


def removal_event(repository: Repository, digest: str, tags: Sequence[str], *, tag: str = "") -> NewEvent:
    """The event of a retention deletion: an artifact with the tags it had, or (``tag``) one tag."""
    return repository_event(
        Operation.DELETE,
        repository,
        tag=tag,
        digest=digest,
        resource_type=ResourceType.TAG if tag else ResourceType.ARTIFACT,
        detail={"by": "retention", "tags": list(tags)},
    )
