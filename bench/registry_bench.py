"""Benchmark moorage against the reference registry (Debian's docker-registry, distribution 2.8).

Starts each server on loopback with a fresh data directory on the same disk, runs issue 2's
workloads against one server at a time (never two at once), and prints every figure with the
ratio moorage / reference, the targets, and the machine's limits measured in the same run.

    python bench/registry_bench.py                      # moorage and the reference, full size
    python bench/registry_bench.py --null               # ... plus the generator's ceiling
    python bench/registry_bench.py --only null --quick  # just the ceiling, small
    python bench/registry_bench.py --workloads large,manifests   # some workloads only
    python bench/registry_bench.py --json new.json --compare bench/results/reference.json
    python bench/registry_bench.py --results new.json --compare old.json   # compare, no run
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``bench`` and ``tests`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.servers import (
    REFERENCE_REGISTRY_BIN,
    ServerProcess,
    free_port,
    start_reference_registry,
)

from bench import figures, machine_limits, moorage_server, workloads
from bench.parameters import FULL, QUICK, WorkloadSizes
from bench.registry_auth import Credentials, RegistryAuth, RegistryEndpoint

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
TARGETS = ("null", "reference", "moorage")


def _progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _moorage_src() -> Path:
    """The moorage measured: this checkout's src unless ``MOORAGE_BENCH_SRC`` names another."""
    return Path(os.environ.get("MOORAGE_BENCH_SRC") or moorage_server.THIS_SRC)


def _python_path() -> str:
    """PYTHONPATH for child processes: moorage's src (``_moorage_src``), then this checkout's root
    for ``bench``."""
    parts = [str(_moorage_src()), str(REPOSITORY_ROOT), os.environ.get("PYTHONPATH", "")]
    return os.pathsep.join(part for part in parts if part)


def start_null_server(data_dir: Path) -> ServerProcess:
    """Run ``bench.null_server`` on a free loopback port and wait until it answers."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = data_dir.parent / f"{data_dir.name}-null.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.null_server", "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=REPOSITORY_ROOT,
            env={**os.environ, "PYTHONPATH": _python_path()},
        )
    server = ServerProcess(process, "127.0.0.1", port, log_path, data_dir)
    server.wait_ready()
    return server


def _start(target: str, data_dir: Path, credentials: Credentials, *, reference_auth: bool) -> ServerProcess:
    """Start ``target``. moorage gets the credentials as its administrator's (it may or may not ask
    for them); the reference asks for them through htpasswd only with ``reference_auth``."""
    if target == "null":
        return start_null_server(data_dir)
    if target == "reference":
        htpasswd = None
        if reference_auth:
            htpasswd = data_dir.parent / "reference.htpasswd"
            htpasswd.write_text(f"{credentials.username}:{_bcrypt(credentials.password)}\n")
        return start_reference_registry(data_dir, htpasswd=htpasswd)
    return moorage_server.start(data_dir, credentials, src=_moorage_src())


def _bcrypt(password: str) -> str:
    """A bcrypt hash at htpasswd -B's default cost (5), the only kind distribution's htpasswd takes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt

        return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 5))


def _version(target: str) -> str:
    argv = {
        "reference": [REFERENCE_REGISTRY_BIN, "--version"],
        "moorage": [sys.executable, "-m", "moorage", "--version"],
    }.get(target)
    if argv is None:
        return "bench.null_server"
    try:
        completed = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            env={**os.environ, "PYTHONPATH": _python_path()},
        )
    except OSError as error:
        return f"unknown ({error})"
    return (
        (completed.stdout or completed.stderr).strip().splitlines()[0]
        if completed.stdout or completed.stderr
        else "unknown"
    )


def run_target(
    target: str,
    work_dir: Path,
    blobs: workloads.LargeBlobs,
    sizes: WorkloadSizes,
    *,
    use_curl: bool,
    reference_auth: bool,
    selected: list[str],
    two_step: bool = False,
) -> dict[str, Any]:
    """Start one server on a fresh data directory, run every workload, stop it, drop its data."""
    data_dir = work_dir / f"{target}-data"
    shutil.rmtree(data_dir, ignore_errors=True)
    outcome: dict[str, Any] = {"version": _version(target), "load_average_at_start": os.getloadavg()[0]}
    _progress(f"{target}: starting ({outcome['version']})")
    try:
        credentials = Credentials("admin", secrets.token_urlsafe(18))
        server = _start(target, data_dir, credentials, reference_auth=reference_auth)
    except (RuntimeError, OSError) as error:
        outcome["error"] = f"did not start: {str(error)[:2000]}"
        _progress(f"{target}: {outcome['error']}")
        return outcome
    endpoint = RegistryEndpoint(server.base_url, RegistryAuth(credentials), server_pid=server.process.pid)
    try:
        result = workloads.run_all(
            endpoint,
            blobs,
            sizes,
            lambda line: _progress(f"{target}: {line}"),
            use_curl=use_curl,
            selected=selected,
            two_step=two_step,
        )
    finally:
        started = time.perf_counter()
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
        os.sync()  # the next server must not pay for this one's writeback
        _progress(f"{target}: stopped, data removed and synced in {time.perf_counter() - started:.1f}s")
    result.notes["authentication"] = endpoint.auth.describe()
    outcome.update(figures=result.figures, samples=result.samples, errors=result.errors, notes=result.notes)
    return outcome


def _host() -> dict[str, Any]:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        model = next(
            (
                line.split(":", 1)[1].strip()
                for line in cpuinfo.read_text().splitlines()
                if line.startswith("model name")
            ),
            "",
        )
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def run(arguments: argparse.Namespace) -> dict[str, Any]:
    """Measure the machine's limits, then every selected target in turn; the results as a dict."""
    sizes = QUICK if arguments.quick else FULL
    targets = [target for target in TARGETS if target in arguments.targets]
    base = Path(arguments.work_dir) if arguments.work_dir else None
    if base is not None:
        base.mkdir(parents=True, exist_ok=True)
    work_dir = Path(tempfile.mkdtemp(prefix="moorage-bench-", dir=base))
    try:
        _progress(f"work directory {work_dir}; measuring machine limits")
        limits = machine_limits.measure(work_dir, sizes.limits_bytes)
        _progress(
            f"limits: sha256 {limits.sha256_mbps:.0f}, disk+fsync {limits.disk_fsync_write_mbps:.0f}, "
            f"loopback {limits.loopback_tcp_mbps:.0f} MB/s"
        )
        selected_large = "large" in arguments.workloads
        blobs = workloads.make_large_blobs(work_dir, sizes) if selected_large else workloads.LargeBlobs((), ())
        os.sync()
        outcomes = {
            target: run_target(
                target,
                work_dir,
                blobs,
                sizes,
                use_curl=arguments.large_client == "curl",
                reference_auth=arguments.reference_auth,
                selected=arguments.workloads,
                two_step=arguments.two_step,
            )
            for target in targets
        }
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    return {
        "schema": figures.RESULTS_SCHEMA,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": arguments.quick,
        "large_client": arguments.large_client,
        "host": _host(),
        "sizes": sizes.as_dict(),
        "limits": {
            "sha256_mbps": limits.sha256_mbps,
            "disk_fsync_write_mbps": limits.disk_fsync_write_mbps,
            "loopback_tcp_mbps": limits.loopback_tcp_mbps,
        },
        "targets": outcomes,
    }


def _targets(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = sorted(set(names) - set(TARGETS))
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"targets are a comma list of {', '.join(TARGETS)}; got {value!r}")
    return names


def _workloads(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = sorted(set(names) - set(workloads.WORKLOAD_NAMES))
    if unknown or not names:
        known = ", ".join(workloads.WORKLOAD_NAMES)
        raise argparse.ArgumentTypeError(f"workloads are a comma list of {known}; got {value!r}")
    return names


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--only",
        type=_targets,
        default=["moorage", "reference"],
        metavar="TARGETS",
        help="comma list of moorage, reference, null (default: moorage,reference)",
    )
    parser.add_argument(
        "--null",
        action="store_true",
        help="also run against the null server: the load generator's ceiling per workload",
    )
    parser.add_argument(
        "--workloads",
        type=_workloads,
        default=list(workloads.WORKLOAD_NAMES),
        metavar="NAMES",
        help=f"comma list of {', '.join(workloads.WORKLOAD_NAMES)} (default: all)",
    )
    parser.add_argument("--quick", action="store_true", help="shrink every workload (a smoke test, < 60 s)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the figures to OUT as JSON")
    parser.add_argument("--compare", type=Path, metavar="BEFORE", help="print a previous run side by side")
    parser.add_argument(
        "--results",
        type=Path,
        metavar="AFTER",
        help="do not run: print (and --compare) the results already in AFTER",
    )
    parser.add_argument("--work-dir", help="where data directories go (default: the system temp dir)")
    parser.add_argument(
        "--reference-auth",
        action="store_true",
        help="run the reference with htpasswd (bcrypt) and Basic credentials on every request",
    )
    parser.add_argument(
        "--moorage-src",
        type=Path,
        help="the src directory of the moorage to measure (default: this checkout's src)",
    )
    parser.add_argument(
        "--large-client",
        choices=("socket", "curl"),
        default="socket",
        help="how large blobs are pushed monolithically and pulled (default: socket)",
    )
    parser.add_argument(
        "--two-step",
        action="store_true",
        help="push monolithic blobs by POST then PUT ?digest= everywhere (as docker and skopeo do), "
        "even where the server takes POST ?digest=",
    )
    arguments = parser.parse_args(argv)
    arguments.targets = list(dict.fromkeys([*arguments.only, *(["null"] if arguments.null else [])]))
    if arguments.moorage_src is not None:
        os.environ["MOORAGE_BENCH_SRC"] = str(arguments.moorage_src.resolve())
    return arguments


def main(argv: list[str] | None = None) -> int:
    """Run (or load), print the table and any errors, write and compare; 1 if anything failed."""
    arguments = parse_arguments(argv)
    try:
        results = figures.read_results(arguments.results) if arguments.results else run(arguments)
        before = figures.read_results(arguments.compare) if arguments.compare else None
    except (OSError, ValueError) as error:
        print(f"registry_bench: {error}", file=sys.stderr)
        return 2
    print(figures.render_table(results))
    errors = figures.render_errors(results)
    if errors:
        print("\nFailures:\n" + errors)
    if arguments.json:
        figures.write_results(arguments.json, results)
    if before is not None:
        print(f"\nCompared with {arguments.compare}:\n")
        print(figures.render_comparison(before, results))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
