"""Image configuration: running as root, secrets in ENV, SSH port exposed; hostile configs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from moorage.scanner.checks import ImageConfigCheck, SettingFinding, finding_to_json

from .conftest import aws_key_pair


@pytest.fixture(scope="module")
def config_check() -> ImageConfigCheck:
    return ImageConfigCheck()


def findings(check: ImageConfigCheck, runtime: dict[str, Any]) -> list[SettingFinding]:
    found = check.check_config({"architecture": "amd64", "config": runtime})
    assert all(isinstance(f, SettingFinding) and f.category == "image_config" for f in found)
    return [f for f in found if isinstance(f, SettingFinding)]


@pytest.mark.parametrize(
    ("user", "root"),
    [("", True), ("root", True), ("0", True), ("0:0", True), ("root:staff", True), (" ", True),
     ("app", False), ("1000", False), ("1000:1000", False), ("nobody:nogroup", False), ("65534", False)],
)  # fmt: skip
def test_runs_as_root(config_check: ImageConfigCheck, user: str, root: bool) -> None:
    rule_ids = [f.rule_id for f in findings(config_check, {"User": user})]
    assert rule_ids == (["config.runs-as-root"] if root else [])


def test_a_root_only_config_without_user(config_check: ImageConfigCheck) -> None:
    (finding,) = findings(config_check, {"Cmd": ["/bin/sh"], "Env": ["PATH=/usr/bin"]})
    assert finding.evidence == "no User set (containers run as root)" and finding.severity == "medium"


def test_secrets_in_env_by_name_and_by_value(config_check: ImageConfigCheck) -> None:
    key_id, secret_key = aws_key_pair()
    env = [
        "PATH=/usr/local/bin:/usr/bin",
        "POSTGRES_PASSWORD=mysecretpassword",
        f"SOME_SETTING={key_id}",
        f"AWS_SECRET_ACCESS_KEY={secret_key}",
        "GITHUB_TOKEN=changeme",
    ]
    found = findings(config_check, {"User": "app", "Env": env})
    assert [f.rule_id for f in found] == ["config.secret-in-env"] * 4
    assert [f.message.split("variable ")[1].split(":")[0] for f in found] == [
        "POSTGRES_PASSWORD", "SOME_SETTING", "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN"]  # fmt: skip
    rendered = json.dumps([finding_to_json(f) for f in found])
    for secret in ("mysecretpassword", key_id, secret_key, "changeme"):
        assert secret not in rendered


def test_benign_env_is_not_a_secret(config_check: ImageConfigCheck) -> None:
    env = [
        "GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D",
        "PYTHON_SHA256=8fb5f9fbc7609fa822cb31549884575db7fd9657cbffb89510b5d7975963a83a",
        "TOKENIZERS_PARALLELISM=false",
        "POSTGRES_PASSWORD_FILE=/run/secrets/db",
        "DB_PASSWORD=",
        "API_KEY=${API_KEY}",
        "SECRET_KEY_LENGTH=64",
        "PWD=/app",
        "NODE_AUTH_TOKEN=",
        "REDIS_PASSWORD=false",
        "JAVA_OPTS=-Xmx512m",
    ]
    assert findings(config_check, {"User": "1000", "Env": env}) == []


def test_ssh_port(config_check: ImageConfigCheck) -> None:
    found = findings(config_check, {"User": "app", "ExposedPorts": {"22/tcp": {}, "8080/tcp": {}}})
    assert [(f.rule_id, f.evidence) for f in found] == [("config.ssh-port-exposed", "ExposedPorts 22/tcp")]
    assert findings(config_check, {"User": "app", "ExposedPorts": {"2222/tcp": {}, "220/udp": {}}}) == []


@pytest.mark.parametrize(
    "config",
    [{}, {"config": None}, {"config": {"User": 5, "Env": "PASSWORD=x", "ExposedPorts": ["22/tcp"]}},
     {"config": {"Env": [None, 7, "NOEQUALS", {"a": 1}]}}, {"config": []}],
)  # fmt: skip
def test_hostile_configs_do_not_raise(config_check: ImageConfigCheck, config: dict[str, Any]) -> None:
    found = config_check.check_config(config)
    assert [f.rule_id for f in found] == ["config.runs-as-root"]
