"""Debian security tracker and Alpine secdb importers, on feeds written in their own formats."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from moorage.scanner.advisories.alpine import AlpineSecdbImporter, parse_fix_ids
from moorage.scanner.advisories.debian import DebianTrackerImporter
from moorage.scanner.advisories.errors import FeedFormatError
from moorage.scanner.advisories.interface import ImportTally
from moorage.scanner.advisories.records import AdvisoryRecord, EventKind, FixState, NameKind, Severity
from tests.scanner.advisories.feedwriters import debian_release, write_alpine_secdb, write_debian_tracker

REAL_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "advisories"


def _debian(path: Path) -> tuple[dict[tuple[str, str], AdvisoryRecord], ImportTally]:
    tally = ImportTally()
    records = [r for r in DebianTrackerImporter().read(path, tally) if isinstance(r, AdvisoryRecord)]
    return {(r.affected[0].name, r.id): r for r in records}, tally


def test_debian_states_urgencies_and_releases(tmp_path: Path) -> None:
    tracker = write_debian_tracker(
        tmp_path / "tracker.json",
        {
            "openssl": {
                "CVE-2024-1000": {
                    "bookworm": debian_release("resolved", fixed_version="3.0.11-1~deb12u2", urgency="high"),
                    "bullseye": debian_release("open", urgency="low", nodsa="Minor issue", nodsa_reason="postponed"),
                    "buster": debian_release("open", urgency="end-of-life"),
                    "trixie": debian_release("resolved", fixed_version="0", urgency="unimportant"),
                    "sid": debian_release("open", urgency="unimportant**"),
                },
                "CVE-2024-1001": {
                    "bookworm": debian_release("open", nodsa="Minor issue", nodsa_reason="ignored"),
                    "bullseye": debian_release("undetermined"),
                },
                "CVE-2024-1002": {"bookworm": debian_release("resolved", fixed_version="0")},
            }
        },
    )
    records, tally = _debian(tracker)
    first = {a.scope: a for a in records[("openssl", "CVE-2024-1000")].affected}
    assert set(first) == {"debian:12", "debian:11", "debian:10", "debian:sid"}, "trixie fixed_version 0 = not affected"
    assert first["debian:12"].fix_state is FixState.FIXED
    assert [(e.kind, e.version) for e in first["debian:12"].ranges[0].events] == [
        (EventKind.INTRODUCED, "0"),
        (EventKind.FIXED, "3.0.11-1~deb12u2"),
    ]
    assert first["debian:12"].vendor_severity is Severity.HIGH
    assert first["debian:12"].name_kind is NameKind.SOURCE
    assert first["debian:11"].fix_state is FixState.DEFERRED
    assert first["debian:11"].vendor_severity is Severity.LOW
    assert "postponed" in first["debian:11"].note
    assert first["debian:10"].fix_state is FixState.END_OF_LIFE
    assert first["debian:sid"].vendor_severity is Severity.NEGLIGIBLE
    second = {a.scope: a for a in records[("openssl", "CVE-2024-1001")].affected}
    assert second["debian:12"].fix_state is FixState.WILL_NOT_FIX
    assert second["debian:12"].vendor_severity is None, "'not yet assigned' leaves the rating to CVSS"
    assert second["debian:11"].fix_state is FixState.UNFIXED
    assert ("openssl", "CVE-2024-1002") not in records
    assert tally.skipped["not affected in any release"] == 1


def test_debian_gzip_and_bad_versions(tmp_path: Path) -> None:
    document = {
        "curl": {
            "CVE-2024-2000": {"releases": {"bookworm": {"status": "resolved", "fixed_version": "7.88.1-10+deb12u5"}}},
            "CVE-2024-2001": {"releases": {"bookworm": {"status": "resolved", "fixed_version": "not:a:version"}}},
            "TEMP-0000000-ABCDEF": {"releases": {"bookworm": {"status": "open", "urgency": "low"}}},
        }
    }
    path = tmp_path / "json.gz"
    path.write_bytes(gzip.compress(json.dumps(document).encode()))
    records, tally = _debian(path)
    assert set(records) == {("curl", "CVE-2024-2000"), ("curl", "TEMP-0000000-ABCDEF")}
    assert tally.skipped["invalid version"] == 1


@pytest.mark.parametrize("content", ["[]", '{"openssl": []}', "not json"])
def test_debian_rejects_other_documents(tmp_path: Path, content: str) -> None:
    path = tmp_path / "tracker.json"
    path.write_text(content)
    with pytest.raises(FeedFormatError):
        _debian(path)


def _alpine(path: Path) -> tuple[list[AdvisoryRecord], ImportTally]:
    tally = ImportTally()
    return [r for r in AlpineSecdbImporter().read(path, tally) if isinstance(r, AdvisoryRecord)], tally


def test_alpine_secdb_json(tmp_path: Path) -> None:
    write_alpine_secdb(
        tmp_path / "v3.19" / "main.json",
        "v3.19",
        {
            "openssl": {
                "3.1.4-r1": ["CVE-2023-5678"],
                "3.1.4-r0": ["CVE-2023-5363", "CVE-2023-5678"],
                "0": ["CVE-2022-0001"],
            },
            "xen": {"4.18.0-r2": ["CVE-2023-46835 XSA-445"]},
        },
    )
    records, tally = _alpine(tmp_path)
    by_id = {r.id: r for r in records}
    assert set(by_id) == {"CVE-2023-5678", "CVE-2023-5363", "CVE-2023-46835"}, "version 0 = never affected"
    fixed = by_id["CVE-2023-5678"].affected[0].ranges[0].events[1].version
    assert fixed == "3.1.4-r0", "the lowest fixed version of the branch wins"
    assert by_id["CVE-2023-46835"].aliases == ("XSA-445",)
    assert by_id["CVE-2023-5363"].affected[0].scope == "alpine:3.19"
    assert by_id["CVE-2023-5363"].affected[0].name_kind is NameKind.SOURCE
    assert not tally.skipped


@pytest.mark.parametrize(
    ("entry", "ids"),
    [
        ("CVE-2019-1234", ("CVE-2019-1234",)),
        ("CVE_2019-2426", ("CVE-2019-2426",)),
        ("CVE-2017-8073.patch", ("CVE-2017-8073",)),
        ("CVE-2017-17434-1", ("CVE-2017-17434",)),
        ("CVE-2017-8903 XSA-213", ("CVE-2017-8903", "XSA-213")),
        ("CVE-2019-15167 (VRRP)", ("CVE-2019-15167",)),
        ("wnpa-sec-2017-18", ("wnpa-sec-2017-18",)),
        ("CVE-????-?????  XSA-295", ("XSA-295",)),
        ("see upstream", ()),
    ],
)
def test_alpine_id_entries(entry: str, ids: tuple[str, ...]) -> None:
    assert parse_fix_ids(entry) == ids


def test_alpine_yaml_typos_and_empty_values(tmp_path: Path) -> None:
    (tmp_path / "main.yaml").write_text(
        "distroversion: v3.11\n"
        "reponame: main\n"
        "packages:\n"
        "  - pkg:\n"
        "      name: wget\n"
        "      secfixes:\n"
        "        1.18.-r2:\n"
        "          - CVE-2016-7098\n"
        "        2.7.16-33:\n"
        "          - CVE-2019-9999\n"
        "        1.20-r0:\n"
        "  - pkg:\n"
        "      name: nothing\n"
    )
    records, tally = _alpine(tmp_path)
    assert [(r.id, r.affected[0].ranges[0].events[1].version) for r in records] == [("CVE-2016-7098", "1.18-r2")]
    assert tally.skipped["invalid version"] == 1


@pytest.mark.skipif(not (REAL_DATA / "alpine-secdb").is_dir(), reason="shared advisory data not present")
def test_alpine_real_secdb_history() -> None:
    records, tally = _alpine(REAL_DATA / "alpine-secdb")
    assert len(records) > 10_000
    assert sum(tally.skipped.values()) < 40, tally.skipped
    openssl = [r for r in records if r.id == "CVE-2019-1547" and r.affected[0].name == "openssl"]
    assert {r.affected[0].scope for r in openssl} >= {"alpine:3.10", "alpine:3.11"}
