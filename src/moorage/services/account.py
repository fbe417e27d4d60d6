"""Account-wide answers of the management API: the overview, quotas, feature gates, regions, resource
reports over time and the CCE agency flag.

Reports read daily snapshots of the account's totals. A snapshot is taken whenever the overview or
a report is read (the latest reading of a day wins); a day nobody looked at carries the previous
day's values forward, and days before the first snapshot read as zero.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from moorage.domain.errors import Denied, Invalid
from moorage.domain.identity import Principal
from moorage.domain.management import UsageSnapshot, UsageTotals
from moorage.metadata.database import Database
from moorage.metadata.queries import namespaces as namespace_q
from moorage.metadata.queries import usage as q
from moorage.services.quotas import QuotaLimits, QuotaService

REPORT_RESOURCES = ("namespace", "repository", "image", "storage", "download", "downflow")
"""What a report can follow: organizations, repositories, images (tags), stored bytes, pulls, pulled bytes."""
REPORT_FREQUENCIES = {"daily": 30, "monthly": 12}
"""Frequencies and how many points each report has."""
_SPAN_DAYS = {"daily": 30, "monthly": 31 * 13}
"""Days of snapshots each frequency reads (monthly: enough for 12 whole months and this one)."""


@dataclass(frozen=True, slots=True)
class Overview:
    """The account's totals now."""

    domain_id: str
    domain_name: str
    totals: UsageTotals


@dataclass(frozen=True, slots=True)
class Quota:
    """One quota: its limit and what is used of it."""

    key: str
    limit: int
    used: int
    unit: str = ""


@dataclass(frozen=True, slots=True)
class FeatureGates:
    """Which optional SWR features this deployment offers (as the console asks)."""

    experience: bool = False
    hss_service: bool = False
    image_scan: bool = False
    sm3: bool = False
    image_sync: bool = False
    cci_service: bool = False
    image_label: bool = False
    pipeline: bool = False
    authorization_token: bool = True
    resource: bool = True
    list_v3: bool = True
    image_quota: bool = False


@dataclass(frozen=True, slots=True)
class ReportPoint:
    """One point of a report: a day (``YYYY-MM-DD``) or a month (``YYYY-MM``) and a value."""

    date: str
    value: float


def _value(totals: UsageTotals, resource: str) -> float:
    return float(
        {
            "namespace": totals.namespaces,
            "repository": totals.repositories,
            "image": totals.images,
            "storage": totals.storage,
            "download": totals.downloads,
            "downflow": totals.download_bytes,
        }[resource]
    )


def report_points(
    snapshots: list[UsageSnapshot], *, resource: str, frequency: str, today: datetime.date
) -> list[ReportPoint]:
    """The report's points from snapshots (oldest first): each day's value is that day's snapshot, or
    the last one before it, or zero; a month's value is its last day's (today's for this month)."""
    days = _SPAN_DAYS[frequency]
    first = today - datetime.timedelta(days=days - 1)
    by_day = {s.day: s.totals for s in snapshots}
    carried = next((s.totals for s in reversed(snapshots) if s.day < first.isoformat()), None)
    daily: list[ReportPoint] = []
    for offset in range(days):
        day = first + datetime.timedelta(days=offset)
        carried = by_day.get(day.isoformat(), carried)
        daily.append(ReportPoint(day.isoformat(), _value(carried, resource) if carried else 0.0))
    if frequency == "daily":
        return daily
    months: dict[str, float] = {}
    for point in daily:
        months[point.date[:7]] = point.value  # later days overwrite: the month's last day wins
    return [ReportPoint(month, value) for month, value in list(months.items())[-REPORT_FREQUENCIES["monthly"] :]]


class AccountService:
    """Overview, quotas, feature gates, regions, reports and the agency flag of the caller's account."""

    def __init__(
        self,
        db: Database,
        *,
        namespace_quota: int,
        region: str,
        feature_gates: FeatureGates | None = None,
        quotas: QuotaService | None = None,
    ) -> None:
        self.db = db
        self.namespace_quota = namespace_quota
        self.storage_quotas = quotas or QuotaService(db, QuotaLimits())
        self.region = region
        self.feature_gates = feature_gates or FeatureGates()

    @staticmethod
    def _domain(principal: Principal) -> str:
        if principal.domain_id is None:
            raise Denied("a user is required")
        return principal.domain_id

    async def _snapshot(self, domain_id: str, instance_id: str, today: datetime.date) -> UsageTotals:
        def work(conn: Connection) -> UsageTotals:
            found = q.totals(conn, instance_id, domain_id)
            q.record(conn, instance_id, domain_id, today.isoformat(), found)
            return found

        return await self.db.write(work)

    async def overview(self, principal: Principal, *, instance_id: str) -> Overview:
        """The account's totals now (recorded as today's snapshot)."""
        domain_id = self._domain(principal)
        totals = await self._snapshot(domain_id, instance_id, datetime.datetime.now(datetime.UTC).date())
        return Overview(domain_id, principal.domain_name, totals)

    async def current_totals(self, principal: Principal, *, instance_id: str) -> UsageTotals:
        """The account's totals now, counted without recording a snapshot (a page that shows them on
        every load, the console's overview, must not write on every load)."""
        domain_id = self._domain(principal)
        return await self.db.read(lambda conn: q.totals(conn, instance_id, domain_id))

    async def quotas(self, principal: Principal, *, instance_id: str) -> list[Quota]:
        """The quotas this deployment enforces on the account, with their use: organizations, and
        repositories (``repository``) and stored bytes (``storage``, unit ``B``) when those are set."""
        domain_id = self._domain(principal)
        used = await self.db.read(lambda conn: namespace_q.count_for_domain(conn, instance_id, domain_id))
        others = await self.storage_quotas.account_quotas(instance_id=instance_id, domain_id=domain_id)
        return [
            Quota("namespace", self.namespace_quota, used),
            *(Quota(o.key, o.limit, o.used, o.unit) for o in others),
        ]

    def regions(self) -> list[str]:
        """The regions this deployment serves (one)."""
        return [self.region]

    async def report(
        self,
        principal: Principal,
        *,
        instance_id: str,
        resource: str,
        frequency: str,
        today: datetime.date | None = None,
    ) -> list[ReportPoint]:
        """``resource`` over time, one point per day (``daily``: 30) or month (``monthly``: 12)."""
        if resource not in REPORT_RESOURCES:
            raise Invalid(f"resource type must be one of {', '.join(REPORT_RESOURCES)}", reason="invalid_parameter")
        if frequency not in REPORT_FREQUENCIES:
            raise Invalid(f"frequency must be one of {', '.join(REPORT_FREQUENCIES)}", reason="invalid_parameter")
        domain_id = self._domain(principal)
        today = today or datetime.datetime.now(datetime.UTC).date()
        await self._snapshot(domain_id, instance_id, today)
        first = today - datetime.timedelta(days=_SPAN_DAYS[frequency] - 1)
        snapshots = await self.db.read(lambda conn: q.since(conn, instance_id, domain_id, first.isoformat()))
        return report_points(snapshots, resource=resource, frequency=frequency, today=today)

    async def agency(self, principal: Principal) -> bool:
        """Whether the account created the CCE agency (stored, never used: there is no CCE here)."""
        domain_id = self._domain(principal)
        return await self.db.read(lambda conn: q.has_agency(conn, domain_id))

    async def create_agency(self, principal: Principal) -> None:
        """Remember the CCE agency (idempotent)."""
        domain_id = self._domain(principal)
        await self.db.write(lambda conn: q.create_agency(conn, domain_id))
