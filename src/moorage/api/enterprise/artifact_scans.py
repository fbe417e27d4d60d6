"""Scans of instance artifacts: start a manual scan, the scan overview of ``show_instance_artifact``
and the vulnerability report, in Harbor's native report form (``application/vnd.security.
vulnerability.report; version=1.1``) as the SWR EE models define it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from moorage import __version__
from moorage.api.deps import ServicesDep, authorize
from moorage.api.enterprise import schemas_artifacts as s
from moorage.api.enterprise.common import ARTIFACT, repository_path_name, timestamp
from moorage.api.management_route import ManagementRoute
from moorage.api.management_rules import R, W, access_rules, on_instance_repository
from moorage.domain.enterprise import ArtifactScanState
from moorage.domain.security import ScanResultStatus
from moorage.domain.severity import severity_rank

router = APIRouter(
    tags=["Enterprise Edition artifacts"], dependencies=[Depends(authorize)], route_class=ManagementRoute
)

REPORT_MIME = "application/vnd.security.vulnerability.report; version=1.1"
SCAN_STATUS = {
    ScanResultStatus.NEW: "Pending",
    ScanResultStatus.SCANNING: "Running",
    ScanResultStatus.SUCCESS: "Success",
    ScanResultStatus.FAILED: "Error",
}
SEVERITY = {
    "critical": "Critical",
    "high": "High",
    "medium": "Medium",
    "low": "Low",
    "negligible": "Low",
    "unknown": "None",
}

ACCESS_RULES = access_rules(
    {
        ("POST", ARTIFACT + "/scan"): on_instance_repository(W),
        ("GET", ARTIFACT + "/vulnerabilities"): on_instance_repository(R),
    }
)


def scanner() -> s.Scanner:
    """The ``Scanner`` of every report: moorage's own."""
    return s.Scanner(name="moorage", vendor="moorage", version=__version__)


def overall_severity(vulnerabilities: tuple[dict[str, Any], ...]) -> str:
    """The report's level: the most severe finding's, ``Security`` when there is none."""
    if not vulnerabilities:
        return "Security"
    worst = max((str(v.get("severity", "unknown")) for v in vulnerabilities), key=severity_rank)
    return SEVERITY.get(worst, "None")


def scan_overview(state: ArtifactScanState) -> dict[str, s.NativeReportSummary]:
    """``scan_overview`` of an artifact: empty until a scan was asked for."""
    result = state.result
    if result is None:
        return {}
    status = SCAN_STATUS[result.status]
    counts: dict[str, int] = {}
    for finding in state.vulnerabilities:
        label = SEVERITY.get(str(finding.get("severity", "unknown")), "None")
        counts[label] = counts.get(label, 0) + 1
    finished = result.status.finished
    succeeded = result.status is ScanResultStatus.SUCCESS
    return {
        REPORT_MIME: s.NativeReportSummary(
            report_id=result.manifest_digest,
            scan_status=status,
            scanner=scanner(),
            complete_percent=100 if finished else 0,
            start_time=timestamp(result.started_at or None),
            end_time=timestamp(result.scanned_at or None) if finished else "",
            duration=max((result.scanned_at - result.started_at) // 1000, 0) if finished else 0,
            severity=overall_severity(state.vulnerabilities) if succeeded else None,
            summary=s.VulnerabilitySummary(
                total=len(state.vulnerabilities),
                summary=counts,
                fixable=sum(1 for v in state.vulnerabilities if v.get("fixed_version")),
            )
            if succeeded
            else None,
        )
    }


def vulnerability_view(finding: dict[str, Any]) -> s.Vulnerability:
    """A ``Vulnerability`` model from a report finding."""
    package = finding.get("package") or {}
    vector = str(finding.get("cvss_vector") or "")
    score = finding.get("score")
    cvss = s.PreferredCvss()
    if vector.startswith("CVSS:3") and isinstance(score, int | float):
        cvss = s.PreferredCvss(score_v3=float(score), vector_v3=vector)
    elif vector and isinstance(score, int | float):
        cvss = s.PreferredCvss(score_v2=float(score), vector_v2=vector)
    layer = str(package.get("layer_digest") or "")
    return s.Vulnerability(
        id=str(finding.get("id", "")),
        package=str(package.get("name", "")),
        version=str(package.get("version", "")),
        fix_version=str(finding.get("fixed_version") or ""),
        severity=SEVERITY.get(str(finding.get("severity", "unknown")), "None"),
        description=str(finding.get("description") or finding.get("title") or ""),
        links=[str(link) for link in finding.get("links") or []],
        artifact_digests=[layer] if layer else [],
        preferred_cvss=cvss,
        cwe_ids=[],
    )


@router.post(ARTIFACT + "/scan", status_code=202, response_model=s.ScanStarted)
async def start_scan(
    instance_id: str, namespace_name: str, repository_name: str, reference: str, services: ServicesDep
) -> s.ScanStarted:
    """Queue a scan of an image artifact; progress shows in the artifact's ``scan_overview``."""
    await services.enterprise.scans.start(
        instance_id=instance_id,
        namespace=namespace_name,
        repository=repository_path_name(repository_name),
        reference=reference,
    )
    return s.ScanStarted()


@router.get(ARTIFACT + "/vulnerabilities", response_model=s.VulnerabilityReports, response_model_exclude_none=True)
async def list_vulnerabilities(
    instance_id: str, namespace_name: str, repository_name: str, reference: str, services: ServicesDep
) -> s.VulnerabilityReports:
    """The artifact's vulnerability report (an empty object until a scan succeeded)."""
    state = await services.enterprise.scans.get(
        instance_id=instance_id,
        namespace=namespace_name,
        repository=repository_path_name(repository_name),
        reference=reference,
        with_findings=True,
    )
    if state.result is None or state.result.status is not ScanResultStatus.SUCCESS:
        return s.VulnerabilityReports({})
    return s.VulnerabilityReports(
        {
            REPORT_MIME: s.VulnerabilityReport(
                generated_at=timestamp(state.result.scanned_at),
                scanner=scanner(),
                severity=overall_severity(state.vulnerabilities),
                vulnerabilities=[vulnerability_view(v) for v in state.vulnerabilities],
            )
        }
    )
