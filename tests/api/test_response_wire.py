"""The bytes a few answers put on the wire, through their route's own serialization (the response
model, ``response_model_exclude_none`` and FastAPI's JSON encoding, as a request would run them): the
places where a response model could change what the SDKs read. Explicit nulls stay where the SDK reads
them (users' ``password_expires_at``, the listing links); fields are absent, not null, where they
were absent before (a scan's ``severity`` and ``summary`` until it succeeded, ``next_marker`` on the
last page, the scope a token does not have, an empty ``preferred_cvss``); keys keep their order."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts, serialize_response

from moorage import __version__
from moorage.api.enterprise import artifact_scans, artifacts
from moorage.api.enterprise import schemas_artifacts as ea
from moorage.api.iam import schemas as iam
from moorage.api.iam import tokens, users
from moorage.app import create_app
from moorage.auth.tokens import IamToken
from moorage.domain.enterprise import Artifact, ArtifactTag
from moorage.domain.identity import User
from moorage.domain.security import ScanResultRecord, ScanResultStatus, ScanSummary
from moorage.services.enterprise.artifact_scans import ArtifactScanState
from moorage.settings import Settings

REPORT = "application/vnd.security.vulnerability.report; version=1.1"
DIGEST = "sha256:" + "a" * 64
ARTIFACT = Artifact(
    id=3,
    digest=DIGEST,
    repository_id=2,
    repository_name="team/app",
    namespace_id=1,
    media_type="application/vnd.oci.image.config.v1+json",
    manifest_media_type="application/vnd.oci.image.manifest.v1+json",
    type="IMAGE",
    size=585,
    push_time=1_700_000_000_123,
    pull_time=None,
    config_digest=None,
    tags=(ArtifactTag(id=4, name="v1", repository_id=2, artifact_id=3, push_time=1_700_000_000_123, pull_time=None),),
)
ARTIFACT_JSON = (
    '{"digest":"' + DIGEST + '","id":3,"repository_id":2,"repository_name":"team/app","type":"IMAGE",'
    '"namespace_id":1,"media_type":"application/vnd.oci.image.config.v1+json",'
    '"manifest_media_type":"application/vnd.oci.image.manifest.v1+json","pull_time":"",'
    '"push_time":"2023-11-14T22:13:20.123Z","size":585,"tags":[{"id":4,"repository_id":2,"artifact_id":3,'
    '"name":"v1","push_time":"2023-11-14T22:13:20.123Z","pull_time":""}]'
)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    """The application, not started: only its routes' serialization is used."""
    return create_app(Settings(data_dir=Path(tmp_path_factory.mktemp("response-wire"))))


@pytest.fixture(scope="module")
def wire(app: FastAPI) -> Callable[[Callable[..., Any], Any], str]:
    """The body a route's endpoint puts on the wire for what it returns."""
    routes = {
        context.original_route.endpoint: context.original_route
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
    }

    def serialized(endpoint: Callable[..., Any], content: Any) -> str:
        route = routes[endpoint]
        body = asyncio.run(
            serialize_response(
                field=route.response_field,
                response_content=content,
                exclude_none=route.response_model_exclude_none,
                dump_json=True,
            )
        )
        return bytes(body).decode()

    return serialized


def _scan(status: ScanResultStatus, findings: tuple[dict[str, Any], ...] = ()) -> ArtifactScanState:
    finished = status in ("success", "failed")
    result = ScanResultRecord(
        manifest_digest=DIGEST,
        status=status,
        failed_code="",
        failed_message="",
        holder_job_id="",
        summary=ScanSummary(),
        severity_level="",
        advisory_db="",
        version=1,
        started_at=1_700_000_001_000,
        scanned_at=1_700_000_003_500 if finished else 0,
    )
    return ArtifactScanState(ARTIFACT, result, findings)


def test_a_scan_overview_has_severity_and_summary_only_once_the_scan_succeeded(wire: Any) -> None:
    def shown(state: ArtifactScanState | None) -> str:
        overview = None if state is None else artifact_scans.scan_overview(state)
        return str(
            wire(
                artifacts.show_artifact,
                ea.ShownArtifact(**dict(artifacts.artifact_view(ARTIFACT)), scan_overview=overview),
            )
        )

    scanner = '"scanner":{"name":"moorage","vendor":"moorage","version":"' + __version__ + '"}'
    assert shown(None) == ARTIFACT_JSON + "}"
    assert shown(ArtifactScanState(ARTIFACT, None)) == ARTIFACT_JSON + ',"scan_overview":{}}'
    assert (
        shown(_scan(ScanResultStatus.SCANNING))
        == ARTIFACT_JSON
        + ',"scan_overview":{"'
        + REPORT
        + '":{"report_id":"'
        + DIGEST
        + '","scan_status":"Running",'
        + scanner
        + ',"complete_percent":0,'
        '"start_time":"2023-11-14T22:13:21.000Z","end_time":"","duration":0}}}'
    )
    finding = {"id": "CVE-1", "severity": "high", "fixed_version": "2.0", "package": {"name": "p", "version": "1.0"}}
    assert (
        shown(_scan(ScanResultStatus.SUCCESS, (finding,)))
        == ARTIFACT_JSON
        + ',"scan_overview":{"'
        + REPORT
        + '":{"report_id":"'
        + DIGEST
        + '","scan_status":"Success",'
        + scanner
        + ',"complete_percent":100,'
        '"start_time":"2023-11-14T22:13:21.000Z","end_time":"2023-11-14T22:13:23.500Z","duration":2,'
        '"severity":"High","summary":{"total":1,"summary":{"High":1},"fixable":1}}}}'
    )


def test_a_vulnerability_report_leaves_out_the_cvss_it_does_not_have(wire: Any) -> None:
    findings = (
        {
            "id": "CVE-3",
            "severity": "critical",
            "score": 9.8,
            "cvss_vector": "CVSS:3.1/AV:N",
            "package": {"name": "p", "version": "1", "layer_digest": DIGEST},
            "links": ["https://x/3"],
        },
        {"id": "CVE-4", "severity": "negligible", "title": "café", "package": {"name": "q", "version": "2"}},
    )
    state = _scan(ScanResultStatus.SUCCESS, findings)
    report = ea.VulnerabilityReports(
        {
            REPORT: ea.VulnerabilityReport(
                generated_at="2023-11-14T22:13:23.500Z",
                scanner=artifact_scans.scanner(),
                severity=artifact_scans.overall_severity(state.vulnerabilities),
                vulnerabilities=[artifact_scans.vulnerability_view(v) for v in state.vulnerabilities],
            )
        }
    )
    body = wire(artifact_scans.list_vulnerabilities, report)
    assert (
        '"severity":"Critical","vulnerabilities":[{"id":"CVE-3","package":"p","version":"1","fix_version":"",'
        '"severity":"Critical","description":"","links":["https://x/3"],"artifact_digests":["' + DIGEST + '"],'
        '"preferred_cvss":{"score_v3":9.8,"vector_v3":"CVSS:3.1/AV:N"},"cwe_ids":[]}' in body
    )
    assert '"description":"café","links":[],"artifact_digests":[],"preferred_cvss":{},"cwe_ids":[]}]}}' in body
    assert wire(artifact_scans.list_vulnerabilities, ea.VulnerabilityReports({})) == "{}"
    assert wire(artifact_scans.start_scan, ea.ScanStarted()) == "{}"


def test_next_marker_only_when_there_is_a_next_page(wire: Any) -> None:
    assert wire(artifacts.list_all_artifacts, ea.AllArtifactList(artifacts=[])) == '{"artifacts":[]}'
    assert (
        wire(artifacts.list_all_artifacts, ea.AllArtifactList(artifacts=[], next_marker=7))
        == '{"artifacts":[],"next_marker":7}'
    )


def test_a_token_names_the_scope_it_has_and_no_other(wire: Any) -> None:
    user = User(id="u1", name="alice", domain_id="d1", domain_name="acme", is_admin=False, enabled=True, created_at=0)
    claims = IamToken(
        token_id="t", user_id="u1", domain_id="d1", project_id=None, issued_at=1_700_000_000, expires_at=1_700_086_400
    )
    assert wire(tokens.create_token, tokens._token_body(claims, user, None)) == (
        '{"token":{"methods":["password"],"expires_at":"2023-11-15T22:13:20.000000Z",'
        '"issued_at":"2023-11-14T22:13:20.000000Z","user":{"id":"u1","name":"alice","domain":{"id":"d1",'
        '"name":"acme"},"password_expires_at":""},"roles":[{"id":"0","name":"te_agency"}],"catalog":[],'
        '"domain":{"id":"d1","name":"acme"}}}'
    )


def test_users_and_listings_keep_their_explicit_nulls(wire: Any) -> None:
    listed = iam.UserList(
        users=[
            iam.UserResult(
                id="u1",
                name="alice",
                domain_id="d1",
                enabled=True,
                description="",
                pwd_status=True,
                password_expires_at=None,
                links=iam.LinksSelf(self_link="http://h/v3/users/u1"),
            )
        ],
        links=iam.Links(self_link="http://h/v3/users", next=None, previous=None),
    )
    assert wire(users.list_users, listed) == (
        '{"users":[{"id":"u1","name":"alice","domain_id":"d1","enabled":true,"description":"","pwd_status":true,'
        '"password_expires_at":null,"links":{"self":"http://h/v3/users/u1"}}],'
        '"links":{"self":"http://h/v3/users","next":null,"previous":null}}'
    )
    projects = iam.ProjectList(projects=[], links=iam.Links(self_link="http://h/v3/projects", next=None, previous=None))
    assert (
        wire(tokens.list_projects, projects)
        == '{"projects":[],"links":{"self":"http://h/v3/projects","next":null,"previous":null}}'
    )
