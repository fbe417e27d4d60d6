"""The pull gate: an organization's policy may refuse pulls (manifest GETs) of images with
findings at or above a severity, unless allowlisted.

It sits on the hot path, so it costs one indexed read when the organization has no policy, and
two when it has one; the verdict itself (parsing the stored summary, applying the allowlist) is
computed once per (digest, result version, policy version) and cached in the process. The
versions come from the database on every pull, so a cached verdict is never stale: a new scan
or a policy change bumps a version and the next pull computes afresh. The cache is per process
and safe to lose.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Connection

from moorage.domain.errors import Denied
from moorage.domain.registry import Repository
from moorage.domain.security import NamespacePolicy, ScanSummary
from moorage.metadata.database import Database
from moorage.metadata.queries import security_tasks as policies_q
from moorage.metadata.queries.security_results import summary_from_json
from moorage.metadata.tables import security_scan_results as results
from moorage.services.security.policies import severity_at_least

CACHE_ENTRIES = 4096
LISTED = 10
"""Findings named in a refusal message (all of them are in the error's detail)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a pull is allowed, and if not, why."""

    allowed: bool
    message: str = ""
    findings: tuple[dict[str, str], ...] = ()


def judge(policy: NamespacePolicy, namespace: str, digest: str, status: str | None,
          summary: ScanSummary) -> Verdict:
    """The verdict of ``policy`` on an image whose result has ``status`` and ``summary``."""
    if status != "success":
        if policy.block_unscanned:
            return Verdict(False, f"pull refused by the security policy of organization {namespace}: image {digest} "
                                  "has not been scanned successfully")
        return Verdict(True)
    if not policy.block_severity:
        return Verdict(True)
    allowed_ids = set(policy.allowlist)
    blocking: list[dict[str, str]] = []
    for vul_id, severity, aliases in summary.vulnerabilities:
        if severity_at_least(severity, policy.block_severity) and not ({vul_id, *aliases} & allowed_ids):
            blocking.append({"type": "vulnerability", "id": vul_id, "severity": severity})
    if severity_at_least("high", policy.block_severity):
        blocking += [{"type": "malware", "id": rule, "severity": "high", "path": path}
                     for rule, path in summary.malicious_files if rule not in allowed_ids]
    blocking += [{"type": "setting", "id": rule, "severity": severity} for rule, severity in summary.unsafe_settings
                 if severity_at_least(severity, policy.block_severity) and rule not in allowed_ids]
    if not blocking:
        return Verdict(True)
    named = ", ".join(f"{f['id']} ({f['severity']})" for f in blocking[:LISTED])
    more = f" and {len(blocking) - LISTED} more" if len(blocking) > LISTED else ""
    return Verdict(False, f"pull refused by the security policy of organization {namespace}: image {digest} has "
                          f"{len(blocking)} finding(s) of severity {policy.block_severity} or above: {named}{more}",
                   tuple(blocking))


class PullGate:
    """Checks manifest pulls against organization policies."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._verdicts: OrderedDict[tuple[int, int, str, int], Verdict] = OrderedDict()

    async def check(self, *, repository: Repository, digest: str) -> None:
        """Raise ``Denied`` when the repository's organization refuses pulls of ``digest``."""
        policy, state = await self.db.read(lambda conn: _probe(conn, repository.namespace_id, digest))
        if policy is None:
            return
        version = state[1] if state else -1
        key = (repository.namespace_id, policy.version, digest, version)
        verdict = self._verdicts.get(key)
        if verdict is None:
            summary_text = await self.db.read(lambda conn: _summary_text(conn, digest)) if state else ""
            verdict = judge(policy, repository.namespace, digest, state[0] if state else None,
                            summary_from_json(summary_text))
            self._verdicts[key] = verdict
            if len(self._verdicts) > CACHE_ENTRIES:
                self._verdicts.popitem(last=False)
        if not verdict.allowed:
            raise Denied(verdict.message, detail={"digest": digest, "findings": list(verdict.findings)})


def _probe(conn: Connection, namespace_id: int,
           digest: str) -> tuple[NamespacePolicy | None, tuple[str, int] | None]:
    """The organization's policy, when it refuses anything, and the digest's (status, version)."""
    policy = policies_q.namespace_policy(conn, namespace_id)
    if policy is None or (not policy.block_severity and not policy.block_unscanned):
        return None, None
    return policy, _result_state(conn, digest)


def _result_state(conn: Connection, digest: str) -> tuple[str, int] | None:
    row = conn.execute(select(results.c.status, results.c.version).where(results.c.manifest_digest == digest)).first()
    return (str(row[0]), int(row[1])) if row else None


def _summary_text(conn: Connection, digest: str) -> str:
    return str(conn.execute(select(results.c.summary).where(results.c.manifest_digest == digest)).scalar() or "")
