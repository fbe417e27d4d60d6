"""End-to-end ``moorage scan`` against ``moorage sbom`` on the same images: the cost of matching and
of the secret, malware and baseline checks on top of the analysis.

Images: ``bench/sbom_bench.py``'s (a debootstrap Debian; the same plus pip, npm, Java and Go
layers), built once and cached. The advisory database holds ``--records`` generated records
(``bench/match_bench.py``'s generator) plus, for every package of the images, three records on
its real name (one of them affecting it), so matching has real candidates to compare.

Every command runs as a separate process, cold (an empty layer cache) then warm (the same cache
again), as a user or a CI job would run it:

* ``sbom``: ``moorage sbom -f cyclonedx``;
* ``scan vuln``: ``moorage scan --scanners vuln``: analysis plus matching;
* ``scan checks``: ``moorage scan --scanners secret,malware,config``: analysis plus the checks;
* ``scan all``: every scanner.

Run: ``PYTHONPATH=src:. python bench/scan_bench.py [--repeat N] [--records 200000]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from bench.match_bench import generate_records  # noqa: E402
from bench.sbom_bench import build_images, timed  # noqa: E402
from moorage.domain.oci_platform import Platform  # noqa: E402
from moorage.scanner.advisories.records import (  # noqa: E402
    AdvisoryRecord,
    AffectedPackage,
    AffectedRange,
    EventKind,
    NameKind,
    RangeEvent,
    Severity,
)
from moorage.scanner.advisories.scopes import normalise_name, package_key, source_package_name  # noqa: E402
from moorage.scanner.advisories.store import AdvisoryStoreWriter, SourceSummary  # noqa: E402
from moorage.scanner.analysis import AnalysisOptions, analyze  # noqa: E402
from moorage.scanner.inventory import Ecosystem, Package  # noqa: E402
from moorage.scanner.sources import OciLayoutSource  # noqa: E402

HIGHEST = {Ecosystem.NPM: "99999.0.0", Ecosystem.GOLANG: "v99999.0.0", Ecosystem.CARGO: "99999.0.0"}
LOWEST = {Ecosystem.NPM: "0.0.1", Ecosystem.GOLANG: "v0.0.1", Ecosystem.CARGO: "0.0.1"}
COMMANDS = {
    "sbom": ["sbom", "-f", "cyclonedx"],
    "scan vuln": ["scan", "--scanners", "vuln", "-f", "json"],
    "scan checks": ["scan", "--scanners", "secret,malware,config", "-f", "json"],
    "scan all": ["scan", "-f", "json"],
}


def image_packages(layout: Path) -> tuple[list[Package], str]:
    """The packages of an image (analysed in-process, not timed) and its distribution scope."""
    with OciLayoutSource(layout) as source:
        (result,) = analyze(source, platform=Platform("linux", "amd64"), options=AnalysisOptions())
    distro = result.inventory.distro
    scope = f"{distro.id}:{distro.version_id}" if distro else ""
    return list(result.inventory.packages), scope


def records_for(packages: list[Package], os_scope: str, rng: random.Random) -> list[AdvisoryRecord]:
    """Three records per package name: one affects the installed version, two do not."""
    records: list[AdvisoryRecord] = []
    seen: set[tuple[str, str]] = set()
    for package in packages:
        if package.ecosystem in (Ecosystem.DEB, Ecosystem.APK, Ecosystem.RPM):
            scope, kind = os_scope, NameKind.SOURCE
            name = normalise_name(package.ecosystem, source_package_name(package) or package.name)
        else:
            scope, kind = package.ecosystem.value, NameKind.PACKAGE
            name = normalise_name(package.ecosystem, package_key(package))
        if not scope or (scope, name) in seen:
            continue
        seen.add((scope, name))
        high = HIGHEST.get(package.ecosystem, "99999")
        low = LOWEST.get(package.ecosystem, "0.0.1")
        for number, fixed in enumerate((high, low, low)):
            record_id = f"REAL-{len(records)}"
            records.append(
                AdvisoryRecord(
                    source="bench",
                    id=record_id,
                    aliases=(f"CVE-2030-{len(records) + 10_000}",),
                    summary=f"generated advisory {number} for {name}",
                    severity=rng.choice((Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL)),
                    cvss_vectors=("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",),
                    references=(f"https://example.test/{record_id}",),
                    affected=(
                        AffectedPackage(
                            scope=scope,
                            ecosystem=package.ecosystem,
                            name=name,
                            name_kind=kind,
                            ranges=(
                                AffectedRange(
                                    (RangeEvent(EventKind.INTRODUCED, "0"), RangeEvent(EventKind.FIXED, fixed))
                                ),
                            ),
                        ),
                    ),
                )
            )
    return records


def build_database(path: Path, layouts: dict[str, Path], filler: int, seed: int) -> tuple[int, float]:
    """Write the benchmark database; (records, seconds)."""
    rng = random.Random(seed)
    started = time.perf_counter()
    records = generate_records(filler, rng)
    for layout in layouts.values():
        packages, scope = image_packages(layout)
        records.extend(records_for(packages, scope, rng))
    writer = AdvisoryStoreWriter(path)
    for record in records:
        writer.add_record(record)
    writer.finish(built_at="bench", sources=[SourceSummary("bench", "generated", records=len(records))])
    return len(records), time.perf_counter() - started


def command(layout: Path, name: str, database: Path, cache: Path, out: Path) -> list[str]:
    """The argv of one benchmark command."""
    argv = [sys.executable, "-m", "moorage", *COMMANDS[name], f"oci:{layout}", "--cache-dir", str(cache)]
    argv += ["--platform", "linux/amd64", "-o", str(out)]
    if name.startswith("scan") and name != "scan checks":
        argv += ["--db", str(database)]
    return argv


def findings(out: Path) -> str:
    """Vulnerabilities / other findings of a report file ('-' for an SBOM)."""
    doc = json.loads(out.read_text())
    if "vulnerabilities" not in doc or doc.get("bomFormat"):
        return "-"
    return f"{len(doc['vulnerabilities'])}/{len(doc['findings'])}"


def main() -> None:
    """Build, time, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement (the best is kept)")
    parser.add_argument("--images", nargs="*", default=["debian", "debian-apps"])
    parser.add_argument("--records", type=int, default=200_000, help="generated advisory records")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    layouts = {name: path for name, path in build_images().items() if name in args.images}
    rows = []
    phases: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="scan-bench-") as scratch:
        database = Path(scratch) / "advisories.sqlite"
        records, db_seconds = build_database(database, layouts, args.records, args.seed)
        for image, layout in layouts.items():
            for name in COMMANDS:
                cold = warm = (float("inf"), float("inf"))
                counted = "-"
                for attempt in range(args.repeat):
                    cache = Path(scratch) / f"cache-{image}-{name.replace(' ', '-')}-{attempt}"
                    out = Path(scratch) / "out.json"
                    cold = min(cold, timed(command(layout, name, database, cache, out)))
                    warm = min(warm, timed(command(layout, name, database, cache, out)))
                    counted = findings(out)
                    if name == "scan all":
                        phases[image] = json.loads(out.read_text())["timings"]
                rows.append((image, name, cold, warm, counted))
    sbom = {(image, "cold"): c[0] for image, name, c, _, _ in rows if name == "sbom"}
    sbom.update({(image, "warm"): w[0] for image, name, _, w, _ in rows if name == "sbom"})
    header = (
        f"{'image':<12} {'command':<12} {'cold s':>8} {'cpu s':>8} {'vs sbom':>8} "
        f"{'warm s':>8} {'cpu s':>8} {'vs sbom':>8} {'vulns/other':>12}"
    )
    print(f"advisory database: {records:,} records, generated and written in {db_seconds:.1f} s")
    print(header)
    print("-" * len(header))
    for image, name, cold, warm, counted in rows:
        print(
            f"{image:<12} {name:<12} {cold[0]:>8.2f} {cold[1]:>8.2f} {cold[0] / sbom[(image, 'cold')]:>7.2f}x "
            f"{warm[0]:>8.2f} {warm[1]:>8.2f} {warm[0] / sbom[(image, 'warm')]:>7.2f}x {counted:>12}"
        )
    print("wall seconds are the best of --repeat runs; cpu seconds are user+system of the command's processes")
    for image, timings in phases.items():
        shown = ", ".join(f"{phase} {seconds:.2f}" for phase, seconds in timings.items())
        print(f"'scan all' phases on {image}, warm run (s): {shown}")
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    (results / f"scan-{stamp}.json").write_text(
        json.dumps(
            {
                "records": records,
                "rows": [{"image": i, "command": n, "cold": c, "warm": w, "findings": f} for i, n, c, w, f in rows],
                "phases": phases,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
