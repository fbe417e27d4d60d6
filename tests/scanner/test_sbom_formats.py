"""Output formats: CycloneDX validates against its schema, SPDX 2.3 has what the spec requires,
the inventory JSON round-trips, and ``moorage sbom`` writes them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from moorage.domain.oci_platform import Platform
from moorage.scanner.analysis import AnalysisOptions, analyze
from moorage.scanner.image_inventory import inventory_from_json, inventory_to_json
from moorage.scanner.sbom import make_writer
from moorage.scanner.sources import OciLayoutSource

ROOT = Path(__file__).resolve().parents[2]


def _inventories(layout: Path) -> list:  # type: ignore[type-arg]
    with OciLayoutSource(layout) as source:
        return [
            r.inventory
            for r in analyze(source, platform=Platform("linux", "amd64"), options=AnalysisOptions(executor="serial"))
        ]


def test_cyclonedx_validates(small_layout: Path) -> None:
    text = make_writer("cyclonedx").render(_inventories(small_layout))
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    assert error is None, error
    doc = json.loads(text)
    assert doc["specVersion"] == "1.6"
    purls = {c["purl"] for c in doc["components"]}
    assert "pkg:pypi/flask@3.0.0" in purls
    assert any(p.startswith("pkg:deb/debian/libc6@2.36-9") for p in purls)


def test_spdx_document_shape(small_layout: Path) -> None:
    doc = json.loads(make_writer("spdx").render(_inventories(small_layout)))
    assert doc["spdxVersion"] == "SPDX-2.3" and doc["dataLicense"] == "CC0-1.0"
    ids = [p["SPDXID"] for p in doc["packages"]]
    assert len(ids) == len(set(ids)) == 4
    for package in doc["packages"][1:]:
        assert package["externalRefs"][0]["referenceType"] == "purl"
        assert package["downloadLocation"] == "NOASSERTION"
    flask = next(p for p in doc["packages"] if p["name"] == "flask")
    assert flask["licenseDeclared"] == "BSD-3-Clause"
    assert {r["relationshipType"] for r in doc["relationships"]} == {"DESCRIBES", "CONTAINS"}


def test_inventory_json_round_trips(small_layout: Path) -> None:
    (inventory,) = _inventories(small_layout)
    text = make_writer("json").render([inventory])
    again = inventory_from_json(json.loads(text))
    assert again == inventory
    assert inventory_to_json(again) == json.loads(text)


def test_table_lists_every_package(small_layout: Path) -> None:
    text = make_writer("table").render(_inventories(small_layout))
    for name in ("libc6", "zlib1g", "flask"):
        assert name in text
    assert "3 packages" in text


def test_cli_writes_each_format(small_layout: Path, tmp_path: Path) -> None:
    env = {"PYTHONPATH": f"{ROOT / 'src'}", "XDG_CACHE_HOME": str(tmp_path / "xdg"), "PATH": "/usr/bin:/bin"}
    for fmt in ("json", "cyclonedx", "spdx", "table"):
        out = tmp_path / f"out.{fmt}"
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "moorage",
                "sbom",
                f"oci:{small_layout}",
                "--format",
                fmt,
                "--platform",
                "linux/amd64",
                "-o",
                str(out),
            ],
            env=env,
            capture_output=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr.decode()
        assert out.read_text().strip()
    bad = subprocess.run(
        [sys.executable, "-m", "moorage", "sbom", str(tmp_path / "nothing-here")],
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert bad.returncode == 2 and b"error:" in bad.stderr
