"""Matching benchmark: an inventory of 5,000 packages against >= 200,000 generated advisory records.

Generates a database shaped like a real one (Debian, Alpine and RHEL releases, PyPI, npm, Go and
Maven; several records per package name, fixed and unfixed ranges, aliases) straight into the
store, then times matching an image-like inventory: cold (a new matcher, every candidate range
compiled) and warm (the same matcher again, as when the registry re-matches many inventories).

    PYTHONPATH=src python bench/match_bench.py [--records 200000] [--packages 5000] [--seed 7]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from moorage.scanner.advisories.records import (
    AdvisoryRecord,
    AffectedPackage,
    AffectedRange,
    EventKind,
    FixState,
    NameKind,
    RangeEvent,
    Severity,
)
from moorage.scanner.advisories.store import AdvisoryStore, AdvisoryStoreWriter, SourceSummary
from moorage.scanner.inventory import Distro, Ecosystem, Package
from moorage.scanner.matching import Matcher


@dataclass(frozen=True)
class Space:
    """One scope of the generated database."""

    scope: str
    ecosystem: Ecosystem
    names: int
    share: float
    kind: NameKind


SPACES = [
    Space("debian:12", Ecosystem.DEB, 9_000, 0.30, NameKind.SOURCE),
    Space("debian:11", Ecosystem.DEB, 9_000, 0.10, NameKind.SOURCE),
    Space("alpine:3.19", Ecosystem.APK, 4_000, 0.08, NameKind.SOURCE),
    Space("rhel:9", Ecosystem.RPM, 4_000, 0.08, NameKind.SOURCE),
    Space("pypi", Ecosystem.PYPI, 12_000, 0.14, NameKind.PACKAGE),
    Space("npm", Ecosystem.NPM, 20_000, 0.18, NameKind.PACKAGE),
    Space("golang", Ecosystem.GOLANG, 5_000, 0.06, NameKind.PACKAGE),
    Space("maven", Ecosystem.MAVEN, 5_000, 0.06, NameKind.PACKAGE),
]


def version_text(ecosystem: Ecosystem, major: int, minor: int, patch: int) -> str:
    """A version in the ecosystem's syntax."""
    if ecosystem is Ecosystem.DEB:
        return f"{major}.{minor}.{patch}-{1 + patch % 3}+deb12u{minor % 4}"
    if ecosystem is Ecosystem.APK:
        return f"{major}.{minor}.{patch}-r{patch % 5}"
    if ecosystem is Ecosystem.RPM:
        return f"{major}.{minor}.{patch}-{1 + patch % 9}.el9_{minor % 4}"
    if ecosystem is Ecosystem.GOLANG:
        return f"v{major}.{minor}.{patch}"
    return f"{major}.{minor}.{patch}"


def package_name(space: Space, index: int) -> str:
    """The generated name of package ``index`` in ``space``."""
    if space.ecosystem is Ecosystem.MAVEN:
        return f"org.example{index % 50}:artifact-{index}"
    if space.ecosystem is Ecosystem.GOLANG:
        return f"github.com/org{index % 300}/module-{index}"
    return f"{space.scope.split(':')[0]}-pkg-{index}"


def generate_records(total: int, rng: random.Random) -> list[AdvisoryRecord]:
    """``total`` advisory records spread over the spaces."""
    records: list[AdvisoryRecord] = []
    for space in SPACES:
        count = int(total * space.share) + 1
        for number in range(count):
            index = rng.randrange(space.names)
            major = rng.randrange(1, 4)
            ranges: list[AffectedRange] = []
            state = FixState.FIXED
            for _ in range(rng.choice((1, 1, 1, 2, 3))):
                low = rng.randrange(0, 10)
                introduced = "0" if low == 0 else version_text(space.ecosystem, major, low, 0)
                if rng.random() < 0.85:
                    fixed = version_text(space.ecosystem, major, low + rng.randrange(1, 5), rng.randrange(10))
                    ranges.append(
                        AffectedRange(
                            (RangeEvent(EventKind.INTRODUCED, introduced), RangeEvent(EventKind.FIXED, fixed))
                        )
                    )
                else:
                    ranges.append(AffectedRange((RangeEvent(EventKind.INTRODUCED, introduced),)))
                    state = rng.choice((FixState.UNFIXED, FixState.WILL_NOT_FIX, FixState.DEFERRED))
            cve = f"CVE-{2015 + number % 10}-{number + 10_000}"
            records.append(
                AdvisoryRecord(
                    source="bench",
                    id=f"BENCH-{space.scope}-{number}",
                    aliases=(cve,),
                    summary=f"Generated vulnerability {number}",
                    severity=rng.choice((None, Severity.LOW, Severity.MEDIUM, Severity.HIGH)),
                    cvss_vectors=("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",),
                    references=(f"https://example.test/{cve}",),
                    affected=(
                        AffectedPackage(
                            scope=space.scope,
                            ecosystem=space.ecosystem,
                            name=package_name(space, index),
                            name_kind=space.kind,
                            ranges=tuple(ranges),
                            fix_state=state,
                        ),
                    ),
                )
            )
    return records


def generate_inventory(count: int, rng: random.Random) -> list[Package]:
    """An image-like inventory: Debian 12 packages plus npm, PyPI, Go and Maven dependencies."""
    mix = [("debian:12", 0.30), ("npm", 0.35), ("pypi", 0.20), ("golang", 0.08), ("maven", 0.07)]
    spaces = {space.scope: space for space in SPACES}
    packages: list[Package] = []
    for scope, share in mix:
        space = spaces[scope]
        for number in range(int(count * share)):
            index = rng.randrange(space.names)
            name = package_name(space, index)
            version = version_text(space.ecosystem, rng.randrange(1, 4), rng.randrange(0, 14), rng.randrange(10))
            if space.ecosystem is Ecosystem.DEB:
                packages.append(
                    Package(
                        Ecosystem.DEB,
                        f"lib{name}-{number}",
                        version,
                        f"pkg:deb/debian/{name}",
                        source_name=name,
                        layer_digest="sha256:" + "1" * 64,
                        path="/var/lib/dpkg/status",
                    )
                )
            elif space.ecosystem is Ecosystem.MAVEN:
                group, artifact = name.split(":")
                packages.append(
                    Package(Ecosystem.MAVEN, artifact, version, f"pkg:maven/{group}/{artifact}", namespace=group)
                )
            else:
                packages.append(Package(space.ecosystem, name, version, f"pkg:{space.ecosystem.value}/{name}"))
    while len(packages) < count:
        packages.append(Package(Ecosystem.NPM, f"unknown-{len(packages)}", "1.0.0", "pkg:npm/unknown"))
    return packages


def main() -> None:
    """Generate, build, match, print figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--packages", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=7)
    arguments = parser.parse_args()
    rng = random.Random(arguments.seed)

    with tempfile.TemporaryDirectory(prefix="match-bench-") as scratch:
        database = Path(scratch) / "advisories.sqlite"
        started = time.perf_counter()
        records = generate_records(arguments.records, rng)
        generated = time.perf_counter() - started

        started, started_cpu = time.perf_counter(), time.process_time()
        writer = AdvisoryStoreWriter(database)
        for record in records:
            writer.add_record(record)
        writer.finish(built_at="bench", sources=[SourceSummary("bench", "generated", records=len(records))])
        built, built_cpu = time.perf_counter() - started, time.process_time() - started_cpu
        size_mib = database.stat().st_size / (1 << 20)

        packages = generate_inventory(arguments.packages, rng)
        with AdvisoryStore(database) as store:
            started, started_cpu = time.perf_counter(), time.process_time()
            matcher = Matcher(store)
            cold = matcher.match(packages, Distro("debian", "12", codename="bookworm"))
            cold_seconds, cold_cpu = time.perf_counter() - started, time.process_time() - started_cpu
            started, started_cpu = time.perf_counter(), time.process_time()
            warm = matcher.match(packages, Distro("debian", "12", codename="bookworm"))
            warm_seconds, warm_cpu = time.perf_counter() - started, time.process_time() - started_cpu
            candidate_rows = len(matcher._compiled)  # a figure, not an API

    assert [f.key for f in cold.findings] == [f.key for f in warm.findings]
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = [
        ("advisory records", f"{len(records):,}"),
        ("generate records", f"{generated:.2f} s"),
        ("write database", f"{built:.2f} s wall, {built_cpu:.2f} s CPU ({size_mib:.0f} MiB)"),
        ("inventory packages", f"{len(packages):,}"),
        ("candidate affected rows", f"{candidate_rows:,}"),
        ("findings", f"{len(cold.findings):,} ({len(cold.skipped)} packages skipped)"),
        ("match, cold matcher", f"{cold_seconds:.2f} s wall, {cold_cpu:.2f} s CPU"),
        ("match, warm matcher", f"{warm_seconds:.2f} s wall, {warm_cpu:.2f} s CPU"),
        ("load average (1 min)", f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"),
        ("peak memory", f"{peak_mib:.0f} MiB"),
    ]
    width = max(len(label) for label, _ in rows)
    print("moorage matching benchmark")
    for label, value in rows:
        print(f"  {label:<{width}}  {value}")


if __name__ == "__main__":
    main()
