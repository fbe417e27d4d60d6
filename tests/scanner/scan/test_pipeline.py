"""The planted image through the real pipeline: every problem found, in the right file, by the
right rule, in the right layer; vulnerabilities from fixture advisories; stable finding ids."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from moorage.domain.severity import Severity
from moorage.scanner.advisories.store import AdvisoryStore
from moorage.scanner.cache import DirectoryLayerCache
from moorage.scanner.checks.findings import (
    FINDING_SCHEMA_PATH,
    Category,
    MalwareFinding,
    SecretFinding,
    SettingFinding,
)
from moorage.scanner.errors import DigestMismatch
from moorage.scanner.matching.findings import FINDING_JSON_SCHEMA
from moorage.scanner.report import ScanReport, report_from_json, report_json_schema, report_to_json
from moorage.scanner.scan import ScanOptions, ScanSetupError, scan
from moorage.scanner.sources import OciLayoutSource

from .conftest import AMD64, REQUESTS_METADATA, PlantedImage, scan_options


@pytest.fixture(scope="module")
def report(planted: PlantedImage, world_db: Path) -> ScanReport:
    with AdvisoryStore(world_db) as store, OciLayoutSource(planted.layout) as source:
        return scan(source, scan_options(store))


def test_secrets_and_malware_are_found_in_their_files_and_layers(report: ScanReport) -> None:
    found = sorted(
        (f.finding.rule_id, f.finding.path, f.layer_index, f.finding.layer_digest, f.finding.in_final_filesystem)
        for f in report.findings
        if isinstance(f.finding, SecretFinding | MalwareFinding)
    )
    base, app, _ = report.image.layers
    assert found == sorted(
        [
            ("secret.private-key", "/root/.ssh/id_rsa", 1, app.digest, True),
            ("secret.aws-access-key-id", "/app/.env", 1, app.digest, True),
            ("secret.aws-secret-access-key", "/app/.env", 1, app.digest, True),
            ("malware.yara.eicar.eicar_test_file", "/opt/eicar.com", 1, app.digest, True),
            ("malware.sha256-blocklist", "/opt/eicar.com", 1, app.digest, True),
            # deleted by a whiteout in layer 2: still shipped, in layer 1
            ("secret.private-key", "/app/deploy.pem", 1, app.digest, False),
            # replaced by a clean copy in layer 2
            ("secret.config-password", "/app/config.yaml", 1, app.digest, False),
            # hidden by an opaque directory in layer 2
            ("secret.env-file", "/var/cache/app/session.env", 0, base.digest, False),
        ]
    )
    aws = [f.finding for f in report.findings if f.finding.rule_id == "secret.aws-access-key-id"]
    assert [f.line for f in aws if isinstance(f, SecretFinding)] == [1]


def test_settings_and_build_history_findings(report: ScanReport) -> None:
    settings = sorted(
        (f.finding.category.value, f.finding.rule_id, f.finding.path, f.layer_index, f.finding.history_index)
        for f in report.findings
        if isinstance(f.finding, SettingFinding)
    )
    assert settings == [
        ("baseline", "baseline.empty-password", "/etc/shadow", 0, None),
        ("baseline", "baseline.suid-file", "/usr/local/bin/helper", 0, None),
        ("baseline", "baseline.world-writable-dir", "/app/uploads", 0, None),
        ("build_command", "history.pipe-to-shell", "", 1, 1),
        ("image_config", "config.runs-as-root", "", None, None),
    ]
    empty = next(f.finding for f in report.findings if f.finding.rule_id == "baseline.empty-password")
    assert isinstance(empty, SettingFinding) and "guest" in empty.evidence


def test_vulnerabilities_come_from_the_fixture_advisories(report: ScanReport) -> None:
    found = {
        (v.finding.vulnerability_id, v.finding.package_name, v.finding.fixed_version, v.finding.fix_state.value)
        for v in report.vulnerabilities
    }
    assert found == {
        ("CVE-2023-4911", "libc6", "2.36-9+deb12u3", "fixed"),
        ("CVE-2023-45853", "zlib1g", "", "will_not_fix"),
        ("CVE-2024-1000", "requests", "2.31.0", "fixed"),
    }
    requests = next(v for v in report.vulnerabilities if v.finding.package_name == "requests")
    assert requests.layer_index == 1 and requests.finding.path == REQUESTS_METADATA
    assert set(requests.finding.aliases) == {"GHSA-aaaa-aaaa-aaaa", "PYSEC-2024-1"}
    libc = next(v for v in report.vulnerabilities if v.finding.package_name == "libc6")
    assert libc.layer_index == 0 and libc.finding.severity is Severity.HIGH
    assert report.database is not None and report.database.built_at
    assert [kind for kind, _ in report.database.sources] == ["osv", "debian", "alpine", "redhat", "nvd"]


def test_image_identity_and_inventory(report: ScanReport, planted: PlantedImage) -> None:
    image = report.image
    assert [layer.digest for layer in image.layers] == list(planted.layers)
    assert all(layer.size and layer.size > 0 for layer in image.layers)
    assert image.manifest_digest.startswith("sha256:") and image.config_digest.startswith("sha256:")
    assert image.config_digest != image.manifest_digest and image.platform == "linux/amd64"
    assert "curl -fsSL" in image.layers[1].created_by
    assert report.inventory.distro is not None and report.inventory.distro.codename == "bookworm"
    assert {p.name for p in report.inventory.packages} == {"libc6", "zlib1g", "requests"}
    assert set(report.timings) == {"resolve", "layers", "analysis", "checks", "matching", "total"}
    assert report.timings["total"] >= report.timings["layers"] > 0


def test_report_json_validates_round_trips_and_hides_every_secret(report: ScanReport, planted: PlantedImage) -> None:
    doc = json.loads(json.dumps(report_to_json(report)))
    jsonschema.Draft202012Validator(report_json_schema()).validate(doc)
    assert report_to_json(report_from_json(doc)) == doc
    assert doc["summary"]["total"] == len(report.vulnerabilities) + len(report.findings) == 16
    assert doc["summary"]["by_category"] == {
        "vulnerability": 3,
        "secret": 6,
        "malware": 2,
        "baseline": 3,
        "image_config": 1,
        "build_command": 1,
    }
    text = json.dumps(doc)
    pem_body = "".join(line for line in planted.leaked["pem"].splitlines() if not line.startswith("-----"))
    for secret in (
        planted.leaked["key_id"],
        planted.leaked["secret_key"],
        planted.leaked["secret_key"][:20],
        pem_body[:40],
    ):
        assert secret not in text


def test_the_shipped_schema_embeds_the_finding_schemas_unchanged() -> None:
    defs = report_json_schema()["$defs"]
    strip = lambda schema: {k: v for k, v in schema.items() if k not in ("$schema", "$id")}  # noqa: E731
    assert defs["vulnerabilityFinding"] == strip(FINDING_JSON_SCHEMA)
    assert defs["checkFinding"] == strip(json.loads(FINDING_SCHEMA_PATH.read_text()))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(report_json_schema()).validate({"schema": "moorage-scan-report/1"})


def test_finding_ids_are_unique_and_stable_across_rescans_cache_and_executors(
    report: ScanReport, planted: PlantedImage, world_db: Path, tmp_path: Path
) -> None:
    ids = [v.finding_id for v in report.vulnerabilities] + [f.finding_id for f in report.findings]
    assert len(set(ids)) == len(ids) == 16
    cache = DirectoryLayerCache(tmp_path / "cache")
    with AdvisoryStore(world_db) as store, OciLayoutSource(planted.layout) as source:
        cold = scan(source, scan_options(store, cache=cache, executor="process"))
        warm = scan(source, scan_options(store, cache=cache, executor="thread"))
    for again in (cold, warm):
        assert [(v.finding_id, v.finding) for v in again.vulnerabilities] == [
            (v.finding_id, v.finding) for v in report.vulnerabilities
        ]
        assert [(f.finding_id, f.finding, f.layer_index) for f in again.findings] == [
            (f.finding_id, f.finding, f.layer_index) for f in report.findings
        ]


def test_check_results_are_cached_per_layer_and_keyed_by_the_options(planted: PlantedImage, tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    shutil.copytree(planted.layout, layout)
    cache = DirectoryLayerCache(tmp_path / "cache")
    with OciLayoutSource(layout) as source:
        first = scan(source, scan_options(cache=cache))
    # Overwrite every layer blob in place: any read of a layer would now fail its digest check.
    for digest in planted.layers:
        blob = layout / "blobs" / "sha256" / digest.split(":")[1]
        blob.write_bytes(b"\0" * blob.stat().st_size)
    with OciLayoutSource(layout) as source:
        second = scan(source, scan_options(cache=cache))
        assert [(f.finding_id, f.finding) for f in second.findings] == [
            (f.finding_id, f.finding) for f in first.findings
        ]
        # Different options make different results: the layers must be read again (and cannot be).
        with pytest.raises(DigestMismatch):
            scan(source, scan_options(cache=cache, disabled_secret_rules=("secret.jwt",)))


def test_scanners_select_what_runs(planted: PlantedImage) -> None:
    with OciLayoutSource(planted.layout) as source:
        secrets_only = scan(source, scan_options(scanners=("secret",)))
        assert secrets_only.scanners == ("secret",) and secrets_only.database is None
        assert {f.finding.category for f in secrets_only.findings} == {Category.SECRET}
        assert secrets_only.vulnerabilities == ()
        config_only = scan(source, scan_options(scanners=("config",)))
        assert {f.finding.category for f in config_only.findings} == {
            Category.BASELINE,
            Category.IMAGE_CONFIG,
            Category.BUILD_COMMAND,
        }
        with pytest.raises(ScanSetupError, match="advisory database"):
            scan(source, ScanOptions(scanners=("vuln",), platform=AMD64))
        with pytest.raises(ScanSetupError, match="unknown scanner"):
            scan(source, scan_options(scanners=("secret", "virus")))
        with pytest.raises(ScanSetupError, match="YARA"):
            scan(source, scan_options(yara_rule_files=(Path("/nonexistent.yar"),)))


def test_severity_filter_and_summary(report: ScanReport) -> None:
    high = report.filtered({Severity.HIGH, Severity.CRITICAL})
    assert high.highest_severity is Severity.CRITICAL
    assert all(s in (Severity.HIGH, Severity.CRITICAL) for s in high.severities())
    assert 0 < len(high.severities()) < len(report.severities())
    assert report.filtered(set()).summary()["total"] == 0
    assert report.filtered(set()).highest_severity is None
