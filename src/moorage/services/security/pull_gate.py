"""The pull gate: an organization's policy may refuse pulls (manifest GETs) of images with
findings at or above a severity, unless allowlisted.

It sits on the registry's hottest path, which answers a manifest GET with one query, so it adds
none there in the common case: what it reads is kept per process for ``cache_seconds`` (policies
per organization, scan-result versions per digest; a second by default), and the verdict itself
(parsing the stored summary, applying the allowlist and the account's handling: vulnerabilities
it ignored or whitelisted do not refuse a pull) is computed once per (organization, policy
version, digest, result version, handling version) and kept. A policy change or a new scan therefore applies
within ``cache_seconds`` on every node; nothing here is needed by another node, and all of it is
safe to lose.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.engine import Connection

from moorage.domain.errors import Denied
from moorage.domain.security import PRIVATE_IMAGE, NamespacePolicy, ScanResultStatus, ScanSummary
from moorage.domain.severity import severity_at_least
from moorage.metadata.database import Database
from moorage.metadata.queries import security_tasks as policies_q
from moorage.metadata.queries.security_handling import handling_version
from moorage.metadata.queries.security_results import ignored_vulnerabilities, summary_from_json
from moorage.metadata.tables import namespaces
from moorage.metadata.tables import security_images as images
from moorage.metadata.tables import security_scan_results as results

CACHE_ENTRIES = 4096
LISTED = 10
"""Findings named in a refusal message (all of them are in the error's detail)."""

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a pull is allowed, and if not, why."""

    allowed: bool
    message: str = ""
    findings: tuple[dict[str, str], ...] = ()


class _Recent(Generic[K, V]):
    """A bounded map whose entries expire ``ttl`` seconds after they were stored."""

    def __init__(self, ttl: float, clock: Callable[[], float]) -> None:
        self.ttl = ttl
        self.clock = clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K) -> tuple[bool, V | None]:
        held = self._entries.get(key)
        if held is None or held[0] < self.clock():
            return False, None
        return True, held[1]

    def put(self, key: K, value: V) -> None:
        self._entries[key] = (self.clock() + self.ttl, value)
        self._entries.move_to_end(key)
        if len(self._entries) > CACHE_ENTRIES:
            self._entries.popitem(last=False)


def judge(
    policy: NamespacePolicy,
    namespace: str,
    digest: str,
    status: ScanResultStatus | None,
    summary: ScanSummary,
    handled: frozenset[str] = frozenset(),
    *,
    allowlist_active: bool = True,
) -> Verdict:
    """The verdict of ``policy`` on an image whose result has ``status`` and ``summary``
    (``handled``: vulnerability ids the account ignored or whitelisted for this image;
    ``allowlist_active``: false once the policy's allowlist has expired)."""
    if status is not ScanResultStatus.SUCCESS:
        if policy.block_unscanned:
            return Verdict(
                False,
                f"pull refused by the security policy of organization {namespace}: image {digest} "
                "has not been scanned successfully",
            )
        return Verdict(True)
    if not policy.block_severity:
        return Verdict(True)
    allowed_ids = (set(policy.allowlist) if allowlist_active else set()) | handled
    blocking: list[dict[str, str]] = []
    for vul_id, severity, aliases in summary.vulnerabilities:
        if severity_at_least(severity, policy.block_severity) and not ({vul_id, *aliases} & allowed_ids):
            blocking.append({"type": "vulnerability", "id": vul_id, "severity": severity})
    if severity_at_least("high", policy.block_severity):
        blocking += [
            {"type": "malware", "id": rule, "severity": "high", "path": path}
            for rule, path in summary.malicious_files
            if rule not in allowed_ids
        ]
    blocking += [
        {"type": "setting", "id": rule, "severity": severity}
        for rule, severity in summary.unsafe_settings
        if severity_at_least(severity, policy.block_severity) and rule not in allowed_ids
    ]
    if not blocking:
        return Verdict(True)
    named = ", ".join(f"{f['id']} ({f['severity']})" for f in blocking[:LISTED])
    more = f" and {len(blocking) - LISTED} more" if len(blocking) > LISTED else ""
    return Verdict(
        False,
        f"pull refused by the security policy of organization {namespace}: image {digest} has "
        f"{len(blocking)} finding(s) of severity {policy.block_severity} or above: {named}{more}",
        tuple(blocking),
    )


class PullGate:
    """Checks manifest pulls against organization policies."""

    def __init__(
        self, db: Database, *, cache_seconds: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.db = db
        self._policies: _Recent[tuple[str, str], NamespacePolicy | None] = _Recent(cache_seconds, clock)
        self._states: _Recent[str, tuple[ScanResultStatus, int, str] | None] = _Recent(cache_seconds, clock)
        self._handling: _Recent[tuple[int, str], tuple[int, frozenset[str]]] = _Recent(cache_seconds, clock)
        self._verdicts: _Recent[tuple[int, int, str, int, int, bool], Verdict] = _Recent(3600.0, clock)
        self.reads = 0
        """Database reads made so far (the benchmark and tests watch it)."""

    async def check(self, *, instance_id: str, namespace: str, digest: str) -> None:
        """Raise ``Denied`` when the organization refuses pulls of ``digest``."""
        known, policy = self._policies.get((instance_id, namespace))
        if not known:
            self.reads += 1
            policy = await self.db.read(lambda conn: _blocking_policy(conn, instance_id, namespace))
            self._policies.put((instance_id, namespace), policy)
        if policy is None:
            return
        known_state, state = self._states.get(digest)
        if not known_state:
            self.reads += 1
            state = await self.db.read(lambda conn: _result_state(conn, digest))
            self._states.put(digest, state)
        version = state[1] if state else -1
        handling = (0, frozenset[str]())
        if state is not None and state[0] is ScanResultStatus.SUCCESS:
            known_handling, held = self._handling.get((policy.namespace_id, digest))
            if not known_handling or held is None:
                self.reads += 1
                namespace_id = policy.namespace_id
                held = await self.db.read(lambda conn: _account_handling(conn, namespace_id, namespace, digest))
                self._handling.put((policy.namespace_id, digest), held)
            handling = held
        allowlist_active = policy.allowlist_active(time.time())
        key = (policy.namespace_id, policy.version, digest, version, handling[0], allowlist_active)
        found, verdict = self._verdicts.get(key)
        if not found or verdict is None:
            verdict = judge(
                policy,
                namespace,
                digest,
                state[0] if state else None,
                summary_from_json(state[2] if state else ""),
                handling[1],
                allowlist_active=allowlist_active,
            )
            self._verdicts.put(key, verdict)
        if not verdict.allowed:
            raise Denied(verdict.message, detail={"digest": digest, "findings": list(verdict.findings)})


def _blocking_policy(conn: Connection, instance_id: str, namespace: str) -> NamespacePolicy | None:
    """The organization's policy, when it refuses anything."""
    namespace_id = conn.execute(
        select(namespaces.c.id).where(namespaces.c.instance_id == instance_id, namespaces.c.name == namespace)
    ).scalar()
    if namespace_id is None:
        return None
    policy = policies_q.namespace_policy(conn, int(namespace_id))
    if policy is None or (not policy.block_severity and not policy.block_unscanned):
        return None
    return policy


def _result_state(conn: Connection, digest: str) -> tuple[ScanResultStatus, int, str] | None:
    row = conn.execute(
        select(results.c.status, results.c.version, results.c.summary).where(results.c.manifest_digest == digest)
    ).first()
    return (ScanResultStatus(row[0]), int(row[1]), str(row[2])) if row else None


def _account_handling(conn: Connection, namespace_id: int, namespace: str, digest: str) -> tuple[int, frozenset[str]]:
    """(the account's handling version, the vulnerability ids it set aside for ``digest`` in this
    organization): ignored for the content, or whitelisted for the organization's image rows."""
    domain_id = conn.execute(select(namespaces.c.domain_id).where(namespaces.c.id == namespace_id)).scalar()
    if not domain_id:
        return 0, frozenset()
    version = handling_version(conn, str(domain_id))
    rows: list[tuple[int, str]] = [
        (int(r[0]), str(r[1]))
        for r in conn.execute(
            select(images.c.id, images.c.image_type).where(
                images.c.domain_id == str(domain_id), images.c.image_digest == digest, images.c.namespace == namespace
            )
        )
    ]
    ignored: set[str] = set()
    for row_id, image_type in rows or [(0, PRIVATE_IMAGE)]:
        ignored |= ignored_vulnerabilities(conn, str(domain_id), digest, image_type=str(image_type), row_id=int(row_id))
    return version, frozenset(ignored)
