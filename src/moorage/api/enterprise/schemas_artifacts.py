"""Response bodies of the Enterprise Edition artifacts, tags, accessories, additions and scans, field
for field as ``huaweicloudsdkswr``'s v2 models define them (each class names its SDK model).

Scan results are Harbor's native report (``application/vnd.security.vulnerability.report;
version=1.1``): maps from that media type to ``NativeReportSummary`` (an artifact's
``scan_overview``) or to ``VulnerabilityReports`` (the whole vulnerabilities answer). Their optional
fields are absent, not null, until a scan produced them: the routes that send them drop None."""

from __future__ import annotations

from pydantic import Field, RootModel

from moorage.api.response_model import ResponseModel


class ArtifactTag(ResponseModel):
    """``ArtifactTag``."""

    id: int
    repository_id: int
    artifact_id: int
    name: str
    push_time: str
    pull_time: str


class Artifact(ResponseModel):
    """``Artifact``."""

    digest: str
    id: int
    repository_id: int
    repository_name: str
    type: str
    namespace_id: int
    media_type: str
    manifest_media_type: str
    pull_time: str
    push_time: str
    size: int
    tags: list[ArtifactTag]


class Scanner(ResponseModel):
    """``Scanner``."""

    name: str
    vendor: str
    version: str


class VulnerabilitySummary(ResponseModel):
    """``VulnerabilitySummary``: findings by severity, and how many have a fix."""

    total: int
    summary: dict[str, int]
    fixable: int


class NativeReportSummary(ResponseModel):
    """``NativeReportSummary``: ``severity`` and ``summary`` only once a scan succeeded."""

    report_id: str
    scan_status: str
    scanner: Scanner
    complete_percent: int
    start_time: str
    end_time: str
    duration: int
    severity: str | None = None
    summary: VulnerabilitySummary | None = None


class ShownArtifact(Artifact):
    """``ShowInstanceArtifactResponse``: an artifact, with its ``scan_overview`` when asked for (empty
    until a scan was asked for)."""

    scan_overview: dict[str, NativeReportSummary] | None = None


class ArtifactList(ResponseModel):
    """``ListInstanceArtifactsResponse``."""

    artifacts: list[Artifact]
    total: int


class AllArtifactList(ResponseModel):
    """``ListInstanceAllArtifactsResponse``: ``next_marker`` only when there is a next page."""

    artifacts: list[Artifact]
    next_marker: int | None = None


class Accessory(ResponseModel):
    """``Accessory``."""

    id: int
    artifact_id: int
    subject_artifact_id: int
    size: int
    digest: str
    type: str
    created_at: str


class AccessoryList(ResponseModel):
    """``ListInstanceAccessoriesResponse``."""

    accessories: list[Accessory]
    total: int


class BuildHistory(ResponseModel):
    """``BuildHistory``: one step of the image config's history."""

    created_at: str
    created_by: str
    empty_layer: bool
    media_type: str = Field(alias="mediaType")
    size: int
    digest: str


class BuildHistoryList(ResponseModel):
    """``ShowInstanceArtifactAdditionResponse``."""

    build_histories: list[BuildHistory]
    total: int


class RepositoryTag(ResponseModel):
    """``RepositoryTag``: a tag with its artifact's fields."""

    name: str
    artifact_id: int
    digest: str
    id: int
    repository_id: int
    type: str
    namespace_id: int
    media_type: str
    manifest_media_type: str
    pull_time: str
    push_time: str
    size: int


class RepositoryTagList(ResponseModel):
    """``ListInstanceTagsResponse``."""

    tags: list[RepositoryTag]
    total: int


class ScanStarted(ResponseModel):
    """``StartManualScanningResponse``: an empty object."""


class PreferredCvss(ResponseModel):
    """``VulnerabilityPreferredCvss``: the v3 pair or the v2 pair, or neither."""

    score_v3: float | None = None
    vector_v3: str | None = None
    score_v2: float | None = None
    vector_v2: str | None = None


class Vulnerability(ResponseModel):
    """``Vulnerability``."""

    id: str
    package: str
    version: str
    fix_version: str
    severity: str
    description: str
    links: list[str]
    artifact_digests: list[str]
    preferred_cvss: PreferredCvss
    cwe_ids: list[str]


class VulnerabilityReport(ResponseModel):
    """``VulnerabilityReports``: one report."""

    generated_at: str
    scanner: Scanner
    severity: str
    vulnerabilities: list[Vulnerability]


class VulnerabilityReports(RootModel[dict[str, VulnerabilityReport]]):
    """``ListInstanceArtifactVulnerabilitiesResponse``, whose ``body`` is the whole answer: report media
    type -> report (empty until a scan succeeded)."""
