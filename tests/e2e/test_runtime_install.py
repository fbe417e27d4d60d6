"""The server installed from ``requirements/runtime.txt`` alone (no test extras) serves requests that
need its runtime dependencies, so a package missing from the runtime lock fails here and not in
production: ``POST /service/token`` answered 500 for every request while python-multipart was only
ever present in development environments.

A fresh virtual environment is built with uv from its cache (``uv venv`` + ``uv pip sync`` + the
package itself: about ten seconds), outside the worktree, from a copy of the sources (so the build
leaves nothing in the tree and the worktree's ``src`` cannot be imported by accident).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from tests.support.servers import ServerProcess, free_port

ROOT = Path(__file__).resolve().parents[2]
ADMIN_USER = "admin"
ADMIN_PASSWORD = "runtime-admin-1"

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _uv() -> str:
    beside = Path(sys.executable).parent / "uv"
    found = str(beside) if beside.exists() else shutil.which("uv")
    if not found:
        pytest.fail("uv is missing: ./dev installs it into the virtual environment")
    return found


def _run(*argv: str | Path) -> None:
    result = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, f"{' '.join(map(str, argv))} failed:\n{result.stdout}{result.stderr}"


@pytest.fixture(scope="module")
def runtime_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment with exactly the runtime lock and moorage (not editable)."""
    base = tmp_path_factory.mktemp("runtime")
    source = base / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    venv = base / "venv"
    uv = _uv()
    _run(uv, "venv", "-q", "--python", sys.executable, venv)
    python = venv / "bin" / "python"
    _run(uv, "pip", "sync", "-q", "--python", python, ROOT / "requirements" / "runtime.txt")
    _run(uv, "pip", "install", "-q", "--python", python, "--no-deps", source)
    return venv


@pytest.fixture(scope="module")
def runtime_server(runtime_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """``moorage serve`` from the runtime environment, with nothing of the test environment in reach."""
    data_dir = tmp_path_factory.mktemp("runtime-data")
    port = free_port()
    env = {
        "PATH": f"{runtime_venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(data_dir),
        "MOORAGE_ACCESS_LOG": "false",
        "MOORAGE_AUTH__ADMIN_USER": ADMIN_USER,
        "MOORAGE_AUTH__ADMIN_PASSWORD": ADMIN_PASSWORD,
        **{k: v for k, v in os.environ.items() if k in ("LANG", "LC_ALL", "TMPDIR")},
    }
    log_path = data_dir.parent / f"{data_dir.name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                str(runtime_venv / "bin" / "moorage"),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--data-dir",
                str(data_dir),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=data_dir,
            start_new_session=True,
        )
    server = ServerProcess(process, "127.0.0.1", port, log_path, data_dir, env)
    try:
        server.wait_ready(timeout=120)
        yield server
    finally:
        server.stop()


def test_the_runtime_environment_holds_no_test_package(runtime_venv: Path) -> None:
    probe = subprocess.run(
        [
            str(runtime_venv / "bin" / "python"),
            "-c",
            "import importlib.util as u, moorage; print(moorage.__file__); "
            "print([m for m in ('pytest', 'hypothesis', 'huaweicloudsdkcore') if u.find_spec(m)])",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd="/",
    )
    location, test_packages = probe.stdout.splitlines()
    assert location.startswith(str(runtime_venv)) and test_packages == "[]"


def test_the_installed_server_answers_token_requests(runtime_server: ServerProcess) -> None:
    base = runtime_server.base_url
    form = urlencode(
        {
            "grant_type": "password",
            "username": ADMIN_USER,
            "password": ADMIN_PASSWORD,
            "service": "moorage",
            "client_id": "containerd-client",
            "access_type": "offline",
            "scope": "repository:runtime/app:pull,push",
        }
    )
    posted = httpx.post(
        f"{base}/service/token", content=form, headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=30
    )
    assert posted.status_code == 200, f"{posted.status_code} {posted.text}\n{runtime_server.log()}"
    assert posted.json()["access_token"] and posted.json()["refresh_token"]
    got = httpx.get(
        f"{base}/service/token",
        params={"scope": "repository:runtime/app:pull"},
        auth=(ADMIN_USER, ADMIN_PASSWORD),
        timeout=30,
    )
    assert got.status_code == 200
    bearer = {"Authorization": f"Bearer {got.json()['token']}"}
    assert httpx.get(f"{base}/v2/runtime/app/tags/list", headers=bearer, timeout=30).status_code == 404


def test_the_installed_server_answers_management_requests(runtime_server: ServerProcess) -> None:
    base = runtime_server.base_url
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": ADMIN_USER, "password": ADMIN_PASSWORD, "domain": {"name": ADMIN_USER}}},
            }
        }
    }
    issued = httpx.post(f"{base}/v3/auth/tokens", json=body, timeout=30)
    assert issued.status_code == 201, issued.text
    headers = {"X-Auth-Token": issued.headers["X-Subject-Token"]}
    assert httpx.get(f"{base}/v2/manage/namespaces", headers=headers, timeout=30).status_code == 200
    assert httpx.get(f"{base}/healthz", timeout=30).json()["status"] == "ok"
