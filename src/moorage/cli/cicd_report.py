"""``moorage scan --report-to``: upload a pipeline's scan to moorage and end with the gate's verdict.

The pipeline scans locally (the image from an OCI layout, a docker archive or a registry, as any
``moorage scan``) and uploads the JSON report with the command's scan-upload credential to
``POST /v5/{project_id}/image/cicd/configurations/{cicd_id}/results``. The server matches the
report's packages against its own advisory database (the pipeline needs none), stores the result
for the account, judges it by the configuration's gate and answers the verdict.

Exit status with ``--report-to``: 0 the gate passed (or ``--no-block``); 1 the gate failed; 2 the
scan could not run; 3 the image is past a scan limit; 4 the upload was refused or failed (bad or
expired credential, deleted configuration, oversized or malformed result, server unreachable).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import typer
from rich.console import Console

from moorage.domain.security_cicd import UPLOAD_SCHEMA
from moorage.scanner.report import ScanReport, report_to_json

GATE_FAILED_EXIT = 1
UPLOAD_FAILED_EXIT = 4
UPLOAD_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True, slots=True)
class ReportTarget:
    """Where and as what the scan is uploaded."""

    url: str
    cicd_id: str
    credential: str
    image: str
    """``[namespace/]name[:tag]`` the result is listed under."""
    pipeline_type: str
    blocking: bool


def _project_of(credential: str) -> str:
    """The project the credential was issued for (read from its claims, unverified: the server checks)."""
    try:
        payload = credential.removeprefix("mcicd.").split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return str(claims["prj"])
    except (IndexError, KeyError, ValueError, TypeError) as exc:
        raise ValueError("the --cicd-token is not a moorage CI/CD upload credential") from exc


def _image_fields(display: str) -> tuple[str, str, str]:
    """(namespace, name, version) of ``[namespace/]name[:tag]``."""
    repository, _, version = display.rpartition(":") if ":" in display.rsplit("/", 1)[-1] else (display, "", "")
    namespace, _, name = repository.partition("/") if "/" in repository else ("", "", repository)
    return namespace, name, version


def upload_document(report: ScanReport, target: ReportTarget) -> dict[str, Any]:
    """The document uploaded for one scanned image."""
    namespace, name, version = _image_fields(target.image)
    return {
        "schema": UPLOAD_SCHEMA,
        "image": {
            "namespace": namespace,
            "name": name,
            "version": version,
            "digest": report.image.manifest_digest,
            "size": sum(layer.size or 0 for layer in report.image.layers),
        },
        "pipeline_type": target.pipeline_type,
        "report": report_to_json(report),
    }


def report_and_judge(reports: Sequence[ScanReport], target: ReportTarget, err: Console) -> None:
    """Upload each scanned image and end as the gate says (see the module docstring)."""
    try:
        project = _project_of(target.credential)
    except ValueError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(UPLOAD_FAILED_EXIT) from exc
    url = f"{target.url.rstrip('/')}/v5/{project}/image/cicd/configurations/{target.cicd_id}/results"
    failed = False
    for report in reports:
        if not report.image.manifest_digest:
            err.print("error: the scanned image has no manifest digest to report", highlight=False)
            raise typer.Exit(UPLOAD_FAILED_EXIT)
        body = json.dumps(upload_document(report, target), separators=(",", ":")).encode()
        try:
            answer = httpx.post(
                url,
                content=body,
                headers={"Authorization": f"Bearer {target.credential}", "Content-Type": "application/json"},
                timeout=UPLOAD_TIMEOUT_SECONDS,
            )
        except httpx.HTTPError as exc:
            err.print(f"error: uploading to {url} failed: {exc}", markup=False, highlight=False)
            raise typer.Exit(UPLOAD_FAILED_EXIT) from exc
        if answer.status_code != 200:
            err.print(
                f"error: moorage refused the upload ({answer.status_code}): {answer.text[:2000]}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(UPLOAD_FAILED_EXIT)
        verdict = answer.json()
        passed = bool(verdict.get("passed"))
        err.print(
            f"moorage gate {'passed' if passed else 'FAILED'} for {target.image} "
            f"({report.image.manifest_digest}, {verdict.get('vul_num', 0)} vulnerabilities, "
            f"image {verdict.get('image_id', '')})",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        for reason in verdict.get("reasons", ()):
            err.print(f"  - {reason}", markup=False, highlight=False, soft_wrap=True)
        failed = failed or not passed
    if failed and target.blocking:
        raise typer.Exit(GATE_FAILED_EXIT)
