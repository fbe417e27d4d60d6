"""Red Hat CSAF VEX and NVD CVE JSON 2.0 importers."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest
import zstandard

from moorage.scanner.advisories.errors import FeedFormatError
from moorage.scanner.advisories.interface import ImportTally
from moorage.scanner.advisories.nvd import NvdImporter
from moorage.scanner.advisories.records import (
    AdvisoryRecord,
    CveMetadata,
    EventKind,
    FixState,
    NameKind,
    Severity,
)
from moorage.scanner.advisories.redhat import RedHatCsafImporter
from tests.scanner.advisories.feedwriters import csaf_vex, nvd_feed


def _redhat(path: Path) -> tuple[list[AdvisoryRecord], ImportTally]:
    tally = ImportTally()
    return [r for r in RedHatCsafImporter().read(path, tally) if isinstance(r, AdvisoryRecord)], tally


def test_vex_fixed_unfixed_and_skipped_streams(tmp_path: Path) -> None:
    document = csaf_vex(
        "CVE-2023-0286",
        fixed=[
            ("BaseOS-9.4.0.Z.MAIN", "openssl-1:3.0.7-16.el9_2.src", "RHSA-2023:0946"),
            ("BaseOS-9.4.0.Z.MAIN", "openssl-libs-1:3.0.7-16.el9_2.x86_64", "RHSA-2023:0946"),
            ("BaseOS-9.2.0.Z.EUS", "openssl-1:3.0.7-15.el9_2.src", "RHSA-2023:0001"),
        ],
        affected=[
            ("red_hat_enterprise_linux_8", "compat-openssl10", "no_fix_planned|Will not fix"),
            ("red_hat_enterprise_linux_8", "openssl", "none_available|Fix deferred"),
            ("red_hat_enterprise_linux_8", "edk2", "no_fix_planned|Out of support scope"),
            ("red_hat_enterprise_linux_8", "shim", ""),
            ("red_hat_enterprise_linux_9", "openssl", "none_available|Affected"),
        ],
        impact="Important",
    )
    (tmp_path / "cve-2023-0286.json").write_text(json.dumps(document))
    [record], tally = _redhat(tmp_path)
    assert record.id == "CVE-2023-0286"
    assert record.severity is Severity.HIGH
    assert record.cvss_vectors == ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",)
    assert "https://access.redhat.com/errata/RHSA-2023:0946" in record.references
    by_key = {(a.scope, a.name, a.name_kind): a for a in record.affected}
    source = by_key[("rhel:9", "openssl", NameKind.SOURCE)]
    assert [(e.kind, e.version) for e in source.ranges[0].events] == [
        (EventKind.INTRODUCED, "0"),
        (EventKind.FIXED, "1:3.0.7-16.el9_2"),
    ], "the EUS stream's older fix is not used for plain RHEL 9"
    assert source.note == "RHSA-2023:0946"
    assert source.vendor_severity is Severity.HIGH
    assert by_key[("rhel:9", "openssl-libs", NameKind.BINARY)].fix_state is FixState.FIXED
    states = {a.name: a.fix_state for a in record.affected if a.scope == "rhel:8"}
    assert states == {
        "compat-openssl10": FixState.WILL_NOT_FIX,
        "openssl": FixState.DEFERRED,
        "edk2": FixState.END_OF_LIFE,
        "shim": FixState.UNFIXED,
    }
    assert not any(a.scope == "rhel:9" and a.fix_state is not FixState.FIXED for a in record.affected), (
        "a known_affected entry for a package that has a fix in the same release is dropped"
    )
    assert not tally.skipped


def test_vex_without_rhel_products_is_counted(tmp_path: Path) -> None:
    document = csaf_vex(
        "CVE-2024-0001",
        platforms={"openshift_4": "cpe:/a:redhat:openshift:4"},
        affected=[("openshift_4", "openshift4/ose-cli", "")],
    )
    (tmp_path / "cve.json").write_text(json.dumps(document))
    records, tally = _redhat(tmp_path)
    assert records == []
    assert tally.skipped["no RHEL package affected"] == 1


def test_vex_archive_as_red_hat_publishes_it(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for number in range(3):
            cve = f"CVE-2024-100{number}"
            data = json.dumps(
                csaf_vex(cve, fixed=[("BaseOS-9.4.0.Z.MAIN", f"bash-5.1.8-{number}.el9.src", "RHSA-2024:1")])
            ).encode()
            entry = tarfile.TarInfo(f"2024/{cve.lower()}.json")
            entry.size = len(data)
            archive.addfile(entry, io.BytesIO(data))
    path = tmp_path / "csaf_vex_2024-01-01.tar.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(buffer.getvalue()))
    records, _ = _redhat(path)
    assert sorted(r.id for r in records) == ["CVE-2024-1000", "CVE-2024-1001", "CVE-2024-1002"]


def _nvd(path: Path) -> tuple[list[CveMetadata], ImportTally]:
    tally = ImportTally()
    return [r for r in NvdImporter().read(path, tally) if isinstance(r, CveMetadata)], tally


def test_nvd_feed_gz_vectors_and_rejected(tmp_path: Path) -> None:
    feed = nvd_feed(
        [
            {
                "id": "CVE-2023-0001",
                "description": "Overflow in thing.",
                "vectors": ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "AV:N/AC:L/Au:N/C:P/I:P/A:P"],
            },
            {"id": "CVE-2023-0002", "description": "** REJECT **", "status": "Rejected"},
        ]
    )
    path = tmp_path / "nvdcve-2.0-2023.json.gz"
    path.write_bytes(gzip.compress(json.dumps(feed).encode()))
    [metadata], tally = _nvd(path)
    assert metadata.id == "CVE-2023-0001"
    assert metadata.description == "Overflow in thing."
    assert metadata.cvss_vectors[0].startswith("CVSS:3.1/")
    assert metadata.cvss_vectors[1] == "AV:N/AC:L/Au:N/C:P/I:P/A:P"
    assert tally.skipped["withdrawn"] == 1


def test_nvd_rejects_other_documents(tmp_path: Path) -> None:
    path = tmp_path / "feed.json"
    path.write_text(json.dumps({"CVE_Items": []}))
    with pytest.raises(FeedFormatError, match=r"not an NVD CVE JSON 2\.0 document"):
        _nvd(path)
