"""``moorage scan`` through its command line: every image source, the CI gate's exit codes, every
format validated (the report schema, the official SARIF 2.1.0 schema, CycloneDX 1.6), and the
checks' options."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import jsonschema
import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from typer.testing import CliRunner

from moorage.cli.main import app
from moorage.scanner.report import report_json_schema
from tests.scanner.checks.conftest import aws_key_pair
from tests.scanner.imagebuild import skopeo_copy
from tests.support.servers import start_reference_registry

from .conftest import PlantedImage

SARIF_SCHEMA = Path(__file__).with_name("fixtures") / "sarif-schema-2.1.0.json"


@pytest.fixture(autouse=True)
def private_layer_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands run without --no-cache keep their layer cache in the test's directory."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


def run(*args: str) -> tuple[int, str]:
    """Run ``moorage`` in-process; (exit code, stdout and stderr)."""
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def scan_json(image: str, *args: str) -> dict[str, object]:
    code, output = run(
        "scan", image, "--platform", "linux/amd64", "--executor", "serial", "--no-cache", "-f", "json", *args
    )
    assert code == 0, output
    doc = json.loads(output[output.index("{") :])
    jsonschema.Draft202012Validator(report_json_schema()).validate(doc)
    return doc


def found(doc: dict[str, object]) -> set[tuple[str, str]]:
    """(rule or vulnerability id, path) of every finding of a report document."""
    findings = doc["findings"]
    vulnerabilities = doc["vulnerabilities"]
    assert isinstance(findings, list) and isinstance(vulnerabilities, list)
    return {(f["rule_id"], f["path"]) for f in findings} | {(v["id"], v["package"]["path"]) for v in vulnerabilities}


EXPECTED = {
    ("secret.aws-access-key-id", "/app/.env"),
    ("CVE-2024-1000", "/usr/local/lib/python3.11/site-packages/requests-2.30.0.dist-info/METADATA"),
}


def test_oci_layout_and_every_format(planted: PlantedImage, world_db: Path, tmp_path: Path) -> None:
    image = f"oci:{planted.layout}:latest"
    doc = scan_json(image, "--db", str(world_db))
    assert found(doc) >= EXPECTED
    sarif_out = tmp_path / "scan.sarif"
    code, output = run(
        "scan", image, "--db", str(world_db), "--platform", "linux/amd64", "-f", "sarif", "-o", str(sarif_out)
    )
    assert code == 0, output
    sarif = json.loads(sarif_out.read_text())
    jsonschema.Draft4Validator(json.loads(SARIF_SCHEMA.read_text())).validate(sarif)
    (sarif_run,) = sarif["runs"]
    assert len(sarif_run["results"]) == doc["summary"]["total"]  # type: ignore[index]
    rules = sarif_run["tool"]["driver"]["rules"]
    for result in sarif_run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["partialFingerprints"]["moorageFindingId/v1"]
    env = next(r for r in sarif_run["results"] if r["ruleId"] == "secret.aws-access-key-id")
    location = env["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "app/.env", "uriBaseId": "IMAGE_ROOT"}
    assert location["region"] == {"startLine": 1}
    eicar = next(r for r in sarif_run["results"] if r["ruleId"] == "malware.sha256-blocklist")
    assert eicar["level"] == "error"

    code, output = run("scan", image, "--db", str(world_db), "--platform", "linux/amd64", "-f", "cyclonedx")
    assert code == 0, output
    text = output[output.index("{") :]
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    bom = json.loads(text)
    refs = {c["bom-ref"] for c in bom["components"]}
    assert {v["id"] for v in bom["vulnerabilities"]} == {"CVE-2023-4911", "CVE-2023-45853", "CVE-2024-1000"}
    assert all(v["affects"][0]["ref"] in refs for v in bom["vulnerabilities"])
    requests = next(v for v in bom["vulnerabilities"] if v["id"] == "CVE-2024-1000")
    assert {r["id"] for r in requests["references"]} == {"GHSA-aaaa-aaaa-aaaa", "PYSEC-2024-1"}

    code, output = run("scan", image, "--db", str(world_db), "--platform", "linux/amd64")
    assert code == 0
    for text in ("CVE-2023-4911", "secret.private-key", "history.pipe-to-shell", "deleted or replaced"):
        assert text in output
    for secret in (planted.leaked["key_id"], planted.leaked["secret_key"], planted.leaked["pem"].splitlines()[1]):
        assert secret not in output and secret not in text and secret not in json.dumps(sarif)


def test_without_a_database_the_vulnerability_part_says_skipped(
    planted: PlantedImage, world_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MOORAGE_VULNDB_PATH", raising=False)
    image = f"oci:{planted.layout}:latest"
    doc = scan_json(image)  # validated against the report schema
    assert doc["skipped_scanners"] == [{"scanner": "vuln", "reason": "no advisory database"}]
    assert doc["scanners"] == ["secret", "malware", "config"]
    assert doc["vulnerabilities"] == [] and doc["database"] is None
    code, table = run("scan", image, "--platform", "linux/amd64", "--executor", "serial", "--no-cache")
    assert code == 0 and "vulnerabilities: skipped: no advisory database" in table

    stored = tmp_path / "report.json"
    stored.write_text(json.dumps(doc))
    code, output = run("rematch", str(stored), "--db", str(world_db), "-f", "json")
    assert code == 0, output
    rematched = json.loads(output[output.index("{") :])
    jsonschema.Draft202012Validator(report_json_schema()).validate(rematched)
    assert rematched["skipped_scanners"] == [] and "vuln" in rematched["scanners"]
    assert "CVE-2024-1000" in {v["id"] for v in rematched["vulnerabilities"]}

    code, table = run("scan", image, "--db", str(world_db), "--platform", "linux/amd64", "--no-cache")
    assert code == 0 and "skipped" not in table.split("Vulnerabilities")[0]
    built = json.loads(run("vulndb", "info", "--db", str(world_db), "--json")[1])["built_at"]
    assert f"advisory database built {built} (0 hours old; records: " in table


def test_exit_codes_make_a_ci_gate(planted: PlantedImage, world_db: Path, tmp_path: Path) -> None:
    image = f"oci:{planted.layout}"
    base = ("scan", image, "--platform", "linux/amd64", "--executor", "serial")
    assert run(*base, "--db", str(world_db), "--severity", "critical", "--exit-code", "4")[0] == 4
    # medium and above, secrets only: the keys are high or critical, so the gate closes
    assert run(*base, "--scanners", "secret", "--severity", "medium", "--exit-code", "1")[0] == 1
    # exactly "negligible,unknown": nothing in this image, so the gate stays open
    assert run(*base, "--db", str(world_db), "--severity", "negligible,unknown", "--exit-code", "1")[0] == 0
    # findings without --exit-code: success
    assert run(*base, "--db", str(world_db))[0] == 0
    yara = tmp_path / "broken.yar"
    yara.write_text("rule broken { condition: }")
    for bad in (
        ("scan", str(tmp_path / "missing")),
        (*base, "--scanners", "virus"),
        (*base, "--scanners", "vuln"),  # no database
        (*base, "--format", "html"),
        (*base, "--severity", "severe"),
        (*base, "--platform", "linux"),
        (*base, "--yara-rules", str(yara)),
        (*base, "--db", str(tmp_path / "nothing.sqlite")),
    ):
        code, output = run(*bad)
        assert code == 2, (bad, output)
        assert "error:" in output


def test_check_options(planted: PlantedImage, tmp_path: Path) -> None:
    image = f"oci:{planted.layout}"
    rules = tmp_path / "site.yar"
    rules.write_text(
        'rule site_marker { meta: severity = "low" strings: $a = "AWS_SECRET_ACCESS_KEY" condition: $a }\n'
    )
    doc = scan_json(image, "--scanners", "malware", "--yara-rules", str(rules))
    assert ("malware.yara.site.site_marker", "/app/.env") in found(doc)
    doc = scan_json(image, "--scanners", "malware", "--yara-rules", str(rules), "--replace-malware-rules")
    assert {rule for rule, _ in found(doc)} == {"malware.yara.site.site_marker"}
    blocklist = tmp_path / "blocklist.txt"
    blocklist.write_text(hashlib.sha256(b"\x7fELF\x00su").hexdigest() + " site-banned su\n")
    doc = scan_json(image, "--scanners", "malware", "--blocklist", str(blocklist))
    assert ("malware.sha256-blocklist", "/usr/bin/su") in found(doc)
    everything = found(scan_json(image, "--scanners", "secret"))
    fewer = found(scan_json(image, "--scanners", "secret", "--disable-secret-rule", "secret.aws-access-key-id"))
    assert everything - fewer == {("secret.aws-access-key-id", "/app/.env")}
    skipped = found(scan_json(image, "--scanners", "secret", "--secret-skip-path", "/app/"))
    assert not any(path.startswith("/app/") for _, path in skipped) and skipped
    settings = found(scan_json(image, "--scanners", "config"))
    assert ("baseline.suid-file", "/usr/local/bin/helper") in settings
    allowed = found(scan_json(image, "--scanners", "config", "--suid-allow", "/usr/local/bin/help*"))
    assert settings - allowed == {("baseline.suid-file", "/usr/local/bin/helper")}
    words = tmp_path / "words.txt"
    words.write_text("hunter2\n")
    assert found(scan_json(image, "--scanners", "config", "--weak-passwords", str(words))) == settings
    code, output = run("scan", image, "--scanners", "config", "--weak-passwords", str(tmp_path / "none.txt"))
    assert code == 2 and "error:" in output


def test_archives_and_root_filesystem_sources(planted: PlantedImage, world_db: Path, tmp_path: Path) -> None:
    oci_archive = tmp_path / "image.tar"
    skopeo_copy(f"oci:{planted.layout}:latest", f"oci-archive:{oci_archive}")
    assert found(scan_json(f"oci-archive:{oci_archive}", "--db", str(world_db))) >= EXPECTED
    docker_archive = tmp_path / "docker.tar"
    skopeo_copy(f"oci:{planted.layout}:latest", f"docker-archive:{docker_archive}:moorage/planted:1")
    doc = scan_json(str(docker_archive), "--db", str(world_db))
    assert found(doc) >= EXPECTED
    assert doc["image"]["config_digest"] == doc["image"]["manifest_digest"]  # type: ignore[index]

    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc/os-release").write_text('ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n')
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text(
        "Package: libc6\nStatus: install ok installed\nVersion: 2.36-9\nArchitecture: amd64\nSource: glibc\n"
    )
    key_id, secret_key = aws_key_pair()
    (root / "srv").mkdir()
    (root / "srv/.env").write_text(f"AWS_ACCESS_KEY_ID={key_id}\nAWS_SECRET_ACCESS_KEY={secret_key}\n")
    doc = scan_json(f"dir:{root}", "--db", str(world_db))
    assert {("secret.aws-access-key-id", "/srv/.env"), ("CVE-2023-4911", "/var/lib/dpkg/status")} <= found(doc)
    assert doc["image"]["config_digest"] == "" and doc["image"]["layers"][0]["digest"].startswith("dir:")  # type: ignore[index]
    assert not any(f["category"] in ("image_config", "build_command") for f in doc["findings"])  # type: ignore[union-attr]


def test_every_platform_of_an_index(multiarch_layout: Path) -> None:
    code, output = run("scan", f"oci:{multiarch_layout}", "--platform", "all", "--scanners", "secret", "-f", "json")
    assert code == 0, output
    docs = json.loads(output[output.index("[") :])
    assert sorted(d["image"]["platform"] for d in docs) == ["linux/amd64", "linux/arm64/v8"]
    code, output = run("scan", f"oci:{multiarch_layout}", "--platform", "all", "--scanners", "secret", "-f", "sarif")
    assert code == 0 and len(json.loads(output[output.index("{") :])["runs"]) == 2


@pytest.mark.slow
def test_registry_source(planted: PlantedImage, world_db: Path, tmp_path: Path) -> None:
    with start_reference_registry(tmp_path / "registry") as registry:
        skopeo_copy(
            f"oci:{planted.layout}:latest", f"docker://{registry.address}/scan/planted:1", "--dest-tls-verify=false"
        )
        doc = scan_json(f"{registry.address}/scan/planted:1", "--db", str(world_db), "--plain-http")
    assert found(doc) >= EXPECTED
    assert [layer["digest"] for layer in doc["image"]["layers"]] == list(planted.layers)  # type: ignore[index]
    assert doc["image"]["config_digest"].startswith("sha256:")  # type: ignore[index]
    assert doc["image"]["manifest_digest"] != doc["image"]["config_digest"]  # type: ignore[index]


# -- limits and failures ------------------------------------------------------------------------------


def test_limit_options_take_sizes() -> None:
    from moorage.cli.image_options import parse_size, scan_limits

    assert [parse_size(t) for t in ("1024", "64k", "512MiB", "1G", "2 GB", "1t")] == [
        1024, 64 << 10, 512 << 20, 1 << 30, 2 << 30, 1 << 40,
    ]  # fmt: skip
    assert scan_limits(max_layer_bytes="1GiB", max_archive_depth=2).max_layer_bytes == 1 << 30
    code, output = run("sbom", "--max-layer-bytes", "lots", "oci:/nowhere")
    assert code == 2 and "not a size" in output


def test_a_failed_scan_is_a_failure_document_never_a_report(tmp_path: Path) -> None:
    from tests.hostile import archive_bombs as bombs

    image = bombs.oci_image(tmp_path / "image", [(bombs.tar_header("big", 1 << 40) + bytes(1024), "none")])
    code, output = run("scan", f"oci:{image}", "--no-cache", "--scanners", "config", "-f", "json")
    assert code == 3 and "error: [layer_too_large]" in output and "(raise the limit with --max-layer-bytes)" in output
    failed = tmp_path / "failed.json"
    code, output = run("sbom", f"oci:{image}", "--no-cache", "-f", "json", "-o", str(failed))
    assert code == 3 and json.loads(failed.read_text())["failure"]["code"] == "layer_too_large"
    code, output = run("rematch", str(failed), "--db", str(tmp_path / "none.sqlite"))
    assert code == 2 and "not a moorage-inventory/1 document" in output  # no inventory: nothing to re-match
    code, output = run("sbom", f"oci:{tmp_path / 'missing'}", "--no-cache", "-f", "json")
    assert code == 2 and json.loads(output[output.index("{") :])["failure"]["code"] == "image_unreadable"


def test_tables_list_what_was_skipped(tmp_path: Path) -> None:
    """The dpkg status over its 64 MiB cap, in the default output (not only in the JSON)."""
    from tests.hostile import archive_bombs as bombs

    blob = bombs.sparse_tar(tmp_path / "layer.tar", "var/lib/dpkg/status", (64 << 20) + 1)
    image = bombs.oci_image(tmp_path / "image", [(blob, "none")])
    for command in (("sbom",), ("scan", "--scanners", "config")):
        code, output = run(*command, f"oci:{image}", "--no-cache")
        assert code == 0, output
        assert "1 inputs skipped or read in part" in output
        assert "file_too_large /var/lib/dpkg/status (dpkg): 67108865 bytes is larger than the cap" in output
