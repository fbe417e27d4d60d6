"""The example deployment files under deploy/ cannot rot: the systemd units pass ``systemd-analyze
verify`` and run commands and settings moorage has, the environment file names real settings with values
that parse, and the nginx site file passes ``nginx -t`` (the multi-node tests in tests/nodes/ run it)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from moorage.settings import Settings, settings_reference
from tests.support import nginx
from tests.support.tools import require_tool

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
ENV_FILE = DEPLOY / "moorage.env"
INSTALLED_MOORAGE = "/opt/moorage/venv/bin/moorage"
SETTING_NAMES = {name for name, _default, _text in settings_reference()}


def _unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    """A unit file's sections, each its ``Key=value`` lines in order (systemd allows a key many times)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = ""
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            sections.setdefault(current, [])
            continue
        key, equals, value = line.partition("=")
        assert equals and current, f"{path.name}: not a unit line: {line!r}"
        sections[current].append((key.strip(), value.strip()))
    return sections


def _values(unit: dict[str, list[tuple[str, str]]], section: str, key: str) -> list[str]:
    return [value for name, value in unit.get(section, []) if name == key]


def _environment(unit: dict[str, list[tuple[str, str]]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in _values(unit, "Service", "Environment"):
        for assignment in shlex.split(line):
            name, _, value = assignment.partition("=")
            found[name] = value
    return found


def _env_file() -> dict[str, str]:
    values = {}
    for line in ENV_FILE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def test_there_are_units_for_each_deployment() -> None:
    assert [unit.name for unit in UNITS] == [
        "moorage-api.service",
        "moorage-migrate.service",
        "moorage-worker.service",
        "moorage.service",
    ]


@pytest.mark.parametrize("path", UNITS, ids=lambda path: path.name)
def test_a_unit_runs_a_moorage_command_with_moorage_settings(path: Path) -> None:
    from moorage.cli.main import app

    unit = _unit(path)
    [exec_start] = _values(unit, "Service", "ExecStart")
    command = shlex.split(exec_start)
    assert command[0] == INSTALLED_MOORAGE
    commands = {info.name or (info.callback.__name__ if info.callback else "") for info in app.registered_commands}
    assert command[1] in commands, f"moorage has no command {command[1]!r}"
    assert _values(unit, "Service", "EnvironmentFile") == ["/etc/moorage/moorage.env"]
    unknown = set(_environment(unit)) - SETTING_NAMES
    assert not unknown, f"not moorage settings: {unknown}"
    assert _values(unit, "Service", "UMask") == ["0077"]  # MOORAGE_UMASK's default: data stays the owner's


def test_the_environment_file_names_settings_whose_values_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    values = _env_file()
    unknown = set(values) - SETTING_NAMES
    assert not unknown, f"not moorage settings: {unknown}"
    for name in [n for n in os.environ if n.startswith("MOORAGE_")]:
        monkeypatch.delenv(name)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.redis_url.startswith("redis://") and settings.resolved_database_url.startswith("postgresql")
    assert settings.storage.driver == "filesystem" and settings.trusted_proxies
    assert settings.resolved_external_url.startswith("https://")


def test_the_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    """``systemd-analyze verify`` on copies whose ExecStart names this environment's moorage (verify
    checks that the program exists); any warning fails the test too."""
    require_tool("systemd-analyze")
    moorage = Path(sys.executable).parent / "moorage"
    assert moorage.exists()
    copies = []
    for path in UNITS:
        copy = tmp_path / path.name
        copy.write_text(path.read_text().replace(INSTALLED_MOORAGE, str(moorage)))
        copies.append(str(copy))
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *copies], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and not done.stderr.strip() and not done.stdout.strip(), done.stdout + done.stderr


def test_the_nginx_site_passes_nginx_t_with_tls_and_without(tmp_path: Path) -> None:
    tls = nginx.self_signed(tmp_path / "tls")
    for name, files in (("tls", tls), ("plain", None)):
        main = nginx.write_config(tmp_path / name, port=8443, upstreams=["127.0.0.1:5001", "127.0.0.1:5002"], tls=files)
        checked = nginx.check_config(main)
        assert checked.returncode == 0, checked.stderr


def test_the_nginx_site_streams_blobs_and_appends_the_client_address() -> None:
    """What docs/deployment.md promises of the site file."""
    site = nginx.SITE_TEMPLATE.read_text()
    directives = "\n".join(line.split("#", 1)[0].strip() for line in site.splitlines())
    blobs = directives.split("location ~ ^/v2/.+/blobs/ {", 1)[1].split("}", 1)[0]
    for directive in (
        "proxy_request_buffering off;",
        "proxy_buffering off;",
        "proxy_buffer_size 256k;",
        "client_body_buffer_size 256k;",
    ):
        assert directive in blobs
    for directive in (
        "client_max_body_size 0;",
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "proxy_set_header Host $http_host;",
        "proxy_read_timeout 900s;",
    ):
        assert directive in directives
    assert re.search(r"server @NODE_1@ .*;\s*server @NODE_2@ ", directives)


def test_the_deployment_guide_names_real_files_and_settings() -> None:
    """docs/deployment.md links every file under deploy/ and names only settings and files that exist."""
    guide = (ROOT / "docs" / "deployment.md").read_text()
    shipped = {str(path.relative_to(ROOT)) for path in DEPLOY.rglob("*") if path.is_file()}
    mentioned = set(re.findall(r"(?<![\w/])deploy/[\w./-]+\w", guide))
    assert {path for path in mentioned if not (ROOT / path).exists()} == set()
    assert {path for path in shipped if path not in mentioned and f"{Path(path).parent}/*" not in guide} == set()
    named = set(re.findall(r"MOORAGE_[A-Z0-9_]*[A-Z0-9]", guide))  # MOORAGE_STORAGE__* names a section
    sections = {name.rsplit("__", 1)[0] + "__" for name in SETTING_NAMES if "__" in name}
    assert {name for name in named - SETTING_NAMES if name + "__" not in sections} == set()
