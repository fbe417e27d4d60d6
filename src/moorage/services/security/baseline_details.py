"""Baseline and build-command details of an account's images: the baselines (rule groups of
``baseline_catalog``) with how many of their rules an image fails, each rule's result and detail,
accounts with weak or empty passwords (the scanner's dictionary at scan time, the account's
extended weak passwords when listed), password complexity policies, risky build commands and
the images that have them, and the totals of the baseline statistic.

A rule an image's scan did not report passed for that image; an image not scanned successfully
has no results. Lists that are not about one image (``image_id`` empty) cover every scanned
image of the account, narrowed by the image fields given.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

from moorage.domain.errors import Invalid, NotFound
from moorage.domain.identity import Principal
from moorage.domain.security import ImageVisibility, ScanStatus
from moorage.domain.security_findings import StoredFinding
from moorage.domain.security_images import ImageRef, ImageScope, RowOfImage
from moorage.domain.severity import severity_rank
from moorage.metadata.queries import security_details as details_q
from moorage.scanner.checks.password_hashes import CryptLibrary, HashScheme, affordable, hash_scheme
from moorage.services.security import baseline_catalog as catalog
from moorage.services.security.account_settings import extended_passwords
from moorage.services.security.detail_base import DetailBase, row_ids_by_digest
from moorage.services.security.detail_vocabulary import risk_level
from moorage.services.security.images import image_visibility
from moorage.services.security.password_policy import PasswordComplexity

WEAK_RULES = ("baseline.weak-password", "baseline.empty-password")
_USER = re.compile(r"^user (.{1,64}?): ")
DAY_MS = 86_400_000
EXTENDED_BUDGET_SECONDS = 5.0
"""Wall-clock budget of trying an account's extended weak passwords in one request."""
_NO_GUESS = (HashScheme.EMPTY, HashScheme.LOCKED, HashScheme.OTHER)
LEVELS = ("High", "Medium", "Low", "Security")
"""A baseline's level for an image: its most severe failed rule (``Security``: none failed)."""


@dataclass(frozen=True, slots=True)
class RiskConfig:
    """A baseline's result for one image."""

    severity: str
    check_name: str
    check_type: str
    standard: str
    check_rule_num: int
    failed_rule_num: int
    check_type_desc: str


@dataclass(frozen=True, slots=True)
class RuleResult:
    """One rule's result for one image."""

    severity: str
    check_name: str
    check_type: str
    standard: str
    check_rule_name: str
    check_rule_id: str
    scan_result: str


@dataclass(frozen=True, slots=True)
class RuleDetail:
    """What a rule checks and what the image has."""

    rule: catalog.BaselineRule
    current: tuple[str, ...]
    """Evidence of each failure (empty: the rule passed)."""


@dataclass(frozen=True, slots=True)
class WeakPasswordUser:
    """An account of an image with a weak or empty password."""

    image: RowOfImage
    user_name: str
    empty: bool
    duration_days: int


@dataclass(frozen=True, slots=True)
class ComplexityOfImage:
    """An image's password complexity."""

    image: RowOfImage
    complexity: PasswordComplexity


@dataclass(frozen=True, slots=True)
class BuildRisk:
    """A build-command rule and the images that break it."""

    rule: catalog.BuildRule
    image_num: int
    latest_scan_time: int
    image_type: str


@dataclass(frozen=True, slots=True)
class BuildRiskImage:
    """An image with a build-command risk, and the instructions concerned."""

    image: RowOfImage
    instructions: tuple[tuple[str, str], ...]
    """(build instruction, remediation) pairs."""


def _level(severity: str) -> str:
    rank = severity_rank(severity)
    if rank >= severity_rank("high"):
        return "High"
    return "Medium" if rank == severity_rank("medium") else "Low"


def _matches(row: RowOfImage, scope: ImageScope) -> bool:
    for value, wanted in (
        (row.image_type, scope.image_type),
        (row.namespace, scope.namespace),
        (row.instance_id, scope.instance_id),
    ):
        if wanted and value != wanted:
            return False
    if scope.image_name and scope.image_name.lower() not in row.image_name.lower():
        return False
    return not (scope.image_version and scope.image_version.lower() not in row.image_version.lower())


def user_of(finding: StoredFinding) -> str:
    """The account a password finding is about (from its evidence)."""
    evidence = finding.detail.get("evidence")
    match = _USER.match(evidence) if isinstance(evidence, str) else None
    return match.group(1) if match else ""


class BaselineService(DetailBase):
    """Baseline and build-command details (see the module docstring)."""

    def _rows(self, seen: ImageVisibility, scope: ImageScope) -> list[RowOfImage]:
        """The scanned rows (platform rows, not their multi-architecture image) a list covers."""
        row_ids: list[int] | None = None
        if scope.image_id:
            row = self.image(
                seen,
                ImageRef(
                    scope.image_id,
                    scope.namespace,
                    scope.image_name,
                    scope.image_version,
                    scope.image_type,
                    scope.instance_id,
                ),
            )
            row_ids = [row.id]
        rows = self.db.run_read(lambda conn: details_q.scanned_rows(conn, seen, row_ids=row_ids))
        return rows if scope.image_id else [r for r in rows if _matches(r, scope)]

    def _one_image_findings(
        self, seen: ImageVisibility, ref: ImageRef, categories: Sequence[str]
    ) -> tuple[list[StoredFinding], bool]:
        row = self.image(seen, ref)
        if row.scan_status is not ScanStatus.SUCCESS:
            return [], False
        digests = list(row_ids_by_digest(row))
        return self.db.run_read(lambda conn: details_q.findings(conn, digests, categories)), True

    async def risk_configs(
        self, principal: Principal, ref: ImageRef, *, check_name: str | None, severity: str | None
    ) -> list[RiskConfig]:
        """The baselines checked in an image, the most severe first."""
        seen = image_visibility(principal)
        if severity and severity not in LEVELS:
            raise Invalid(f"severity must be one of {', '.join(LEVELS)}")

        def work() -> list[RiskConfig]:
            found, scanned = self._one_image_findings(seen, ref, catalog.SETTING_CATEGORIES)
            if not scanned:
                return []
            failed: dict[str, str] = {}
            for f in found:
                rule = catalog.RULES_BY_ID.get(f.rule_id)
                if rule is not None and severity_rank(f.severity) >= severity_rank(failed.get(rule.check_name, "")):
                    failed[rule.check_name] = f.severity
            failed_rules = {f.rule_id for f in found}
            result = []
            for base in catalog.BASELINES:
                rules = catalog.rules_of(base.check_name)
                level = _level(failed[base.check_name]) if base.check_name in failed else "Security"
                item = RiskConfig(
                    level,
                    base.check_name,
                    base.check_name,
                    catalog.STANDARD,
                    len(rules),
                    sum(1 for r in rules if r.rule_id in failed_rules),
                    base.description,
                )
                if check_name and check_name.lower() not in base.check_name.lower():
                    continue
                if severity and item.severity != severity:
                    continue
                result.append(item)
            return sorted(result, key=lambda c: (LEVELS.index(c.severity), c.check_name))

        return await self.run(work)

    async def rules(
        self,
        principal: Principal,
        ref: ImageRef,
        *,
        check_name: str | None,
        result_type: str | None,
        check_rule_name: str | None,
        severity: str | None,
    ) -> list[RuleResult]:
        """Each rule's result in an image (``result_type``: ``pass`` or ``failed``), failures first."""
        seen = image_visibility(principal)
        if result_type and result_type not in ("pass", "failed"):
            raise Invalid("result_type must be pass or failed")

        def work() -> list[RuleResult]:
            found, scanned = self._one_image_findings(seen, ref, catalog.SETTING_CATEGORIES)
            if not scanned:
                return []
            failed = {f.rule_id for f in found}
            result = []
            for rule in catalog.RULES:
                item = RuleResult(
                    _level(rule.severity),
                    rule.check_name,
                    rule.check_name,
                    catalog.STANDARD,
                    rule.name,
                    rule.rule_id,
                    "failed" if rule.rule_id in failed else "pass",
                )
                if check_name and rule.check_name != check_name:
                    continue
                if result_type and item.scan_result != result_type:
                    continue
                if check_rule_name and check_rule_name.lower() not in rule.name.lower():
                    continue
                if severity and item.severity != severity:
                    continue
                result.append(item)
            return sorted(result, key=lambda r: (r.scan_result != "failed", LEVELS.index(r.severity)))

        return await self.run(work)

    async def rule_detail(self, principal: Principal, ref: ImageRef, *, check_rule_id: str) -> RuleDetail:
        """What a rule checks, how to audit and fix it, and what the image has."""
        seen = image_visibility(principal)
        rule = catalog.RULES_BY_ID.get(check_rule_id)
        if rule is None:
            raise NotFound(f"check rule {check_rule_id[:128]!r} not found", reason="rule_not_found")

        def work() -> RuleDetail:
            found, _ = self._one_image_findings(seen, ref, catalog.SETTING_CATEGORIES)
            current = []
            for f in found:
                if f.rule_id == check_rule_id:
                    evidence = f.detail.get("evidence")
                    current.append(evidence if isinstance(evidence, str) and evidence else f.title)
            return RuleDetail(rule, tuple(dict.fromkeys(current)))

        return await self.run(work)

    def _weak_users(self, seen: ImageVisibility, scope: ImageScope) -> list[WeakPasswordUser]:
        rows = self._rows(seen, scope)
        by_digest: dict[str, list[RowOfImage]] = {}
        for row in rows:
            by_digest.setdefault(row.manifest_digest, []).append(row)
        found = self.db.run_read(lambda conn: details_q.findings(conn, by_digest, ["baseline"]))
        today = int(time.time() * 1000) // DAY_MS
        result: dict[tuple[int, str], WeakPasswordUser] = {}
        for f in found:
            if f.rule_id not in WEAK_RULES or not user_of(f):
                continue
            facts = self.reader.passwords(f.manifest_digest)
            changed = {a.name: a.changed_day for a in facts.accounts} if facts else {}
            day = changed.get(user_of(f), 0)
            for row in by_digest[f.manifest_digest]:
                key = (row.tag_row_id, user_of(f))
                result.setdefault(
                    key,
                    WeakPasswordUser(
                        row, user_of(f), f.rule_id == "baseline.empty-password", max(today - day, 0) if day else 0
                    ),
                )
        extended = self.db.run_read(lambda conn: extended_passwords(conn, seen.domain_id))
        crypt = CryptLibrary.load() if extended else None
        deadline = time.monotonic() + EXTENDED_BUDGET_SECONDS
        for digest, digest_rows in by_digest.items():
            facts = self.reader.passwords(digest) if crypt is not None else None
            for account in facts.accounts if facts is not None else ():
                field = account.password_field
                if hash_scheme(field) in _NO_GUESS or not affordable(field) or time.monotonic() > deadline:
                    continue
                if crypt is not None and any(crypt.matches(word, field) for word in extended):
                    days = max(today - account.changed_day, 0) if account.changed_day else 0
                    for row in digest_rows:
                        result.setdefault(
                            (row.tag_row_id, account.name), WeakPasswordUser(row, account.name, False, days)
                        )
        return sorted(
            result.values(), key=lambda u: (u.image.namespace, u.image.image_name, u.image.image_version, u.user_name)
        )

    async def weak_password_users(
        self, principal: Principal, scope: ImageScope, *, user_name: str | None
    ) -> list[WeakPasswordUser]:
        """Accounts with a weak or empty password, in one image or all the account's."""
        seen = image_visibility(principal)
        return await self.run(
            lambda: [
                u for u in self._weak_users(seen, scope) if not user_name or user_name.lower() in u.user_name.lower()
            ]
        )

    def _complexities(self, seen: ImageVisibility, scope: ImageScope) -> list[ComplexityOfImage]:
        result: dict[int, ComplexityOfImage] = {}
        for row in self._rows(seen, scope):
            facts = self.reader.passwords(row.manifest_digest)
            if facts is not None and not facts.complexity.compliant:
                result.setdefault(row.tag_row_id, ComplexityOfImage(row, facts.complexity))
        return sorted(result.values(), key=lambda c: (c.image.namespace, c.image.image_name, c.image.image_version))

    async def password_complexity(self, principal: Principal, scope: ImageScope) -> list[ComplexityOfImage]:
        """Images whose password policy misses one of the complexity rules."""
        seen = image_visibility(principal)
        return await self.run(lambda: self._complexities(seen, scope))

    def _build_findings(self, seen: ImageVisibility, scope: ImageScope) -> list[tuple[RowOfImage, StoredFinding]]:
        rows = self._rows(seen, scope)
        by_digest: dict[str, list[RowOfImage]] = {}
        for row in rows:
            by_digest.setdefault(row.manifest_digest, []).append(row)
        found = self.db.run_read(lambda conn: details_q.findings(conn, by_digest, [catalog.BUILD_CATEGORY]))
        return [(row, f) for f in found for row in by_digest[f.manifest_digest]]

    async def build_risks(
        self, principal: Principal, scope: ImageScope, *, risk_name: str | None, level: str | None
    ) -> list[BuildRisk]:
        """Build-command rules broken by the images in scope, with how many images break each."""
        seen = image_visibility(principal)

        def work() -> list[BuildRisk]:
            images: dict[str, set[int]] = {}
            latest: dict[str, int] = {}
            for row, f in self._build_findings(seen, scope):
                images.setdefault(f.rule_id, set()).add(row.tag_row_id)
                latest[f.rule_id] = max(latest.get(f.rule_id, 0), row.latest_scan_time)
            result = []
            for rule in catalog.BUILD_RULES:
                if rule.rule_id not in images:
                    continue
                if risk_name and risk_name.lower() not in rule.name.lower():
                    continue
                if level and risk_level(rule.severity) != level:
                    continue
                result.append(BuildRisk(rule, len(images[rule.rule_id]), latest[rule.rule_id], scope.image_type or ""))
            return sorted(result, key=lambda r: (-severity_rank(r.rule.severity), r.rule.rule_id))

        return await self.run(work)

    async def build_risk_images(
        self, principal: Principal, scope: ImageScope, *, rule_id: str | None
    ) -> list[BuildRiskImage]:
        """Images with build-command risks (``rule_id``: of that rule), with the instructions concerned."""
        seen = image_visibility(principal)

        def work() -> list[BuildRiskImage]:
            found: dict[int, tuple[RowOfImage, list[tuple[str, str]]]] = {}
            for row, f in self._build_findings(seen, scope):
                if rule_id and f.rule_id != rule_id:
                    continue
                evidence = f.detail.get("evidence")
                _, instructions = found.setdefault(row.tag_row_id, (row, []))
                text = evidence if isinstance(evidence, str) and evidence else f.title
                rule = catalog.BUILD_RULES_BY_ID.get(f.rule_id)
                pair = (text, rule.remediation if rule else "")
                if pair not in instructions:
                    instructions.append(pair)
            return [
                BuildRiskImage(row, tuple(instr))
                for row, instr in sorted(
                    found.values(), key=lambda x: (x[0].namespace, x[0].image_name, x[0].image_version)
                )
            ]

        return await self.run(work)

    async def statistic(self, principal: Principal, scope: ImageScope) -> tuple[int, int, int]:
        """(images with weak passwords, images with a weak password policy, images failing a check)."""
        seen = image_visibility(principal)

        def work() -> tuple[int, int, int]:
            weak = {u.image.tag_row_id for u in self._weak_users(seen, scope)}
            policy = {c.image.tag_row_id for c in self._complexities(seen, scope)}
            rows = self._rows(seen, scope)
            by_digest: dict[str, list[RowOfImage]] = {}
            for row in rows:
                by_digest.setdefault(row.manifest_digest, []).append(row)
            found = self.db.run_read(lambda conn: details_q.findings(conn, by_digest, catalog.SETTING_CATEGORIES))
            failing = {row.tag_row_id for f in found for row in by_digest[f.manifest_digest]}
            return len(weak), len(policy), len(failing)

        return await self.run(work)
