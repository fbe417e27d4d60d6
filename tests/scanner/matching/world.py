"""A small advisory world written in every source format, built into a database, for matcher tests."""

from __future__ import annotations

import json
from pathlib import Path

from moorage.scanner.advisories.builder import build_database
from moorage.scanner.advisories.sources import SourceSpec, parse_source
from tests.scanner.advisories.feedwriters import (
    csaf_vex,
    debian_release,
    nvd_feed,
    osv_record,
    write_alpine_secdb,
    write_debian_tracker,
    write_osv_dir,
)

CVSS_MEDIUM = "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:N/A:N"  # 5.3
CVSS_CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"  # 10.0


def write_world(root: Path) -> list[SourceSpec]:
    """Write the feeds under ``root``; return the sources that build the world's database."""
    osv = write_osv_dir(
        root / "osv",
        [
            osv_record(
                "GHSA-aaaa-aaaa-aaaa",
                package="requests",
                events=[{"introduced": "0"}, {"fixed": "2.31.0"}],
                aliases=["CVE-2024-1000"],
                summary="Requests leaks Proxy-Authorization headers",
                severity=[{"type": "CVSS_V3", "score": CVSS_MEDIUM}],
                database_specific={"severity": "MODERATE"},
            ),
            osv_record(
                "PYSEC-2024-1",
                package="requests",
                events=[{"introduced": "0"}, {"fixed": "2.31.0"}],
                aliases=["CVE-2024-1000", "GHSA-aaaa-aaaa-aaaa"],
                details="Requests before 2.31.0 leaks headers.",
            ),
            osv_record(
                "PYSEC-2024-2",
                package="requests",
                events=[{"introduced": "0"}],
                withdrawn="2024-03-01T00:00:00Z",
            ),
            osv_record(
                "GHSA-bbbb-bbbb-bbbb",
                package="Jinja2",
                events=[{"introduced": "3.0.0"}, {"last_affected": "3.1.2"}],
                details="Jinja2 sandbox escape. More words here.",
            ),
            osv_record(
                "GHSA-cccc-cccc-cccc",
                ecosystem="npm",
                package="@babel/traverse",
                events=[{"introduced": "0"}, {"fixed": "7.23.2"}],
                aliases=["CVE-2023-45133"],
                severity=[{"type": "CVSS_V3", "score": CVSS_CRITICAL}],
            ),
            osv_record(
                "GO-2020-0001",
                ecosystem="Go",
                package="github.com/gin-gonic/gin",
                ranges=[{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.6.0"}]}],
                aliases=["CVE-2020-36567", "GHSA-6vm3-jj99-7229"],
            ),
            osv_record(
                "GO-2023-1840",
                ecosystem="Go",
                package="stdlib",
                ranges=[{"type": "SEMVER", "events": [{"introduced": "1.20.0"}, {"fixed": "1.20.5"}]}],
                aliases=["CVE-2023-29403"],
            ),
            osv_record(
                "GHSA-jfh8-c2jp-5v3q",
                ecosystem="Maven",
                package="org.apache.logging.log4j:log4j-core",
                events=[{"introduced": "2.0-beta9"}, {"fixed": "2.15.0"}],
                aliases=["CVE-2021-44228"],
                severity=[{"type": "CVSS_V3", "score": CVSS_CRITICAL}],
                database_specific={"severity": "CRITICAL"},
            ),
        ],
    )
    tracker = write_debian_tracker(
        root / "debian" / "json",
        {
            "openssl": {
                "CVE-2023-5678": {
                    "bookworm": debian_release("resolved", fixed_version="3.0.11-1~deb12u2"),
                    "bullseye": debian_release("open", urgency="low", nodsa="Minor", nodsa_reason="postponed"),
                }
            },
            "glibc": {
                "CVE-2023-4911": {
                    "bookworm": debian_release("resolved", fixed_version="2.36-9+deb12u3", urgency="high")
                }
            },
            "zlib": {"CVE-2023-45853": {"bookworm": debian_release("open", nodsa="Minor", nodsa_reason="ignored")}},
            "gcc-defaults": {"CVE-2099-0001": {"bookworm": debian_release("resolved", fixed_version="1.204")}},
        },
    )
    alpine = write_alpine_secdb(
        root / "alpine" / "v3.19-main.json", "v3.19", {"openssl": {"3.1.4-r1": ["CVE-2023-5678"]}}
    )
    redhat = root / "redhat"
    redhat.mkdir(parents=True, exist_ok=True)
    (redhat / "cve-2023-0286.json").write_text(
        json.dumps(
            csaf_vex(
                "CVE-2023-0286",
                fixed=[
                    ("BaseOS-9.4.0.Z.MAIN", "openssl-1:3.0.7-16.el9_2.src", "RHSA-2023:0946"),
                    ("BaseOS-9.4.0.Z.MAIN", "openssl-libs-1:3.0.7-16.el9_2.x86_64", "RHSA-2023:0946"),
                ],
                affected=[("red_hat_enterprise_linux_8", "openssl", "none_available|Fix deferred")],
                impact="Important",
            )
        )
    )
    nvd = root / "nvd.json"
    nvd.write_text(
        json.dumps(
            nvd_feed(
                [
                    {
                        "id": "CVE-2023-5678",
                        "description": "Excessive time in DH checks.",
                        "vectors": [CVSS_MEDIUM],
                    },
                    {
                        "id": "CVE-2023-45853",
                        "description": "zlib MiniZip overflow.",
                        "vectors": [CVSS_CRITICAL],
                    },
                ]
            )
        )
    )
    return [
        parse_source(f"osv:{osv}"),
        parse_source(f"debian:{tracker}"),
        parse_source(f"alpine:{alpine}"),
        parse_source(f"redhat:{redhat}"),
        parse_source(f"nvd:{nvd}"),
    ]


def build_world(root: Path) -> Path:
    """Write the world and build its database; return the database path."""
    database = root / "advisories.sqlite"
    build_database(write_world(root / "feeds"), database)
    return database
