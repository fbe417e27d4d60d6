"""Build-command risks from the image history, with layer attribution and masked evidence."""

from __future__ import annotations

import json
from typing import Any

import pytest

from moorage.scanner.checks import HistoryCheck, SettingFinding, finding_to_json
from moorage.scanner.checks.history import build_args

from .conftest import ALNUM, aws_key_pair, random_string
from .test_secrets import rsa_pem


@pytest.fixture(scope="module")
def history_check() -> HistoryCheck:
    return HistoryCheck()


def run(check: HistoryCheck, *commands: str, **config: Any) -> list[SettingFinding]:
    history = [
        {"created_by": c, "empty_layer": c.startswith(("ENV", "ARG", "/bin/sh -c #(nop)  ENV"))} for c in commands
    ]
    found = check.check_config({"history": history, **config})
    assert all(isinstance(f, SettingFinding) and f.category == "build_command" for f in found)
    return [f for f in found if isinstance(f, SettingFinding)]


@pytest.mark.parametrize(
    "command",
    [
        "RUN /bin/sh -c curl -fsSL https://get.example.com | sh # buildkit",
        "/bin/sh -c curl -sL https://deb.nodesource.com/setup_20.x | bash -",
        "RUN /bin/sh -c wget -O- https://example.com/install.sh | sudo bash",
        "RUN /bin/sh -c wget -qO - https://example.com/i.py | python3 -",
        'RUN /bin/sh -c sh -c "$(curl -fsSL https://example.com/install.sh)"',
        "RUN /bin/bash -c bash <(curl -s https://example.com/x.sh)",
        "RUN /bin/sh -c curl https://example.com/x.sh | /usr/bin/env bash",
    ],
)
def test_pipe_to_shell(history_check: HistoryCheck, command: str) -> None:
    assert [f.rule_id for f in run(history_check, command)] == ["history.pipe-to-shell"]


@pytest.mark.parametrize(
    "command",
    [
        "RUN /bin/sh -c curl -fsSLo /tmp/x.tgz https://example.com/x.tgz && sha256sum -c x.sha256",
        "RUN /bin/sh -c curl -s https://example.com/list | grep stable | sort",
        "RUN /bin/sh -c apt-get install -y curl && echo sh",
        "RUN /bin/sh -c chmod 755 /entrypoint.sh && chmod 1777 /tmp && chmod -R g+w /app",
        "ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d "
        "https://example.com/a.tgz /",
        "COPY app.tgz /app/ # buildkit",
        "/bin/sh -c #(nop) ADD file:3e54d5a8fc8e4c1a6d8c9f1b2a7e4d0c in / ",
    ],
)
def test_safe_commands(history_check: HistoryCheck, command: str) -> None:
    assert run(history_check, command) == []


@pytest.mark.parametrize(
    ("command", "rule_id"),
    [
        ("ADD https://example.com/app.tar.gz /opt/ # buildkit", "history.add-from-url"),
        ("/bin/sh -c #(nop) ADD http://example.com/a.jar /app/a.jar", "history.add-from-url"),
        ("ADD --chown=app:app https://example.com/a.jar /app/ # buildkit", "history.add-from-url"),
        ("RUN /bin/sh -c chmod 777 /app", "history.chmod-777"),
        ("RUN /bin/sh -c chmod -R 0777 /var/www && echo ok", "history.chmod-777"),
        ("RUN /bin/sh -c chmod a+rwx /data", "history.chmod-777"),
        ("RUN /bin/sh -c chmod o+w /etc/app.conf", "history.chmod-777"),
        ("RUN /bin/sh -c chmod 666 /app/db.sqlite", "history.chmod-777"),
    ],
)
def test_add_from_url_and_chmod(history_check: HistoryCheck, command: str, rule_id: str) -> None:
    assert [f.rule_id for f in run(history_check, command)] == [rule_id]


def test_secrets_in_build_args_are_found_and_masked(history_check: HistoryCheck) -> None:
    password = random_string(ALNUM, 16)
    command = f"RUN |3 VERSION=1.2.3 DB_PASSWORD={password} NPM_TOKEN= /bin/sh -c make install # buildkit"
    assert [name for name, _, _ in build_args(command)] == ["VERSION", "DB_PASSWORD", "NPM_TOKEN"]
    (finding,) = run(history_check, command)
    assert finding.rule_id == "history.secret-in-build-arg" and "DB_PASSWORD" in finding.message
    assert password not in json.dumps(finding_to_json(finding))
    assert "DB_PASSWORD=********" in finding.evidence and "VERSION=1.2.3" in finding.evidence


def test_secrets_written_in_commands(history_check: HistoryCheck) -> None:
    key_id, secret_key = aws_key_pair()
    token = "ghp_" + random_string(ALNUM, 36)
    url_password = random_string(ALNUM, 12)
    found = run(
        history_check,
        f"RUN /bin/sh -c git clone https://{token}@github.com/acme/private.git",
        f"RUN /bin/sh -c pip install --index-url https://ci:{url_password}@pypi.internal/simple app",
        f"ENV AWS_ACCESS_KEY_ID={key_id} AWS_SECRET_ACCESS_KEY={secret_key}",
    )
    assert [(f.rule_id, f.history_index) for f in found] == [
        ("history.secret-in-command", 0),
        ("history.secret-in-command", 1),
        ("history.secret-in-command", 2),
        ("history.secret-in-command", 2),
    ]
    assert {f.message for f in found[2:]} == {
        "AWS access key id in a build command", "AWS secret access key in a build command"}  # fmt: skip
    rendered = json.dumps([finding_to_json(f) for f in found])
    for secret in (token, url_password, key_id, secret_key):
        assert secret not in rendered


def test_env_secret_still_in_the_final_config_is_left_to_the_config_check(
    history_check: HistoryCheck,
) -> None:
    key_id, _ = aws_key_pair()
    config = {"config": {"Env": [f"KEY={key_id}"]}}
    assert run(history_check, f"ENV KEY={key_id}", **config) == []
    assert len(run(history_check, f"ENV KEY={key_id}")) == 1  # overwritten later: history keeps it


def test_findings_name_the_layer_of_the_history_entry(history_check: HistoryCheck) -> None:
    history = [
        {"created_by": "/bin/sh -c #(nop) ADD file:abc in / "},
        {"created_by": '/bin/sh -c #(nop)  CMD ["bash"]', "empty_layer": True},
        {"created_by": "RUN /bin/sh -c curl -s https://x.example/i.sh | sh"},
        {"created_by": "RUN /bin/sh -c chmod 777 /srv", "empty_layer": False},
    ]
    config = {
        "history": history,
        "rootfs": {"type": "layers", "diff_ids": ["sha256:d0", "sha256:d1", "sha256:d2"]},
    }
    by_diff_id = history_check.check_config(config)
    assert [(f.rule_id, f.layer_digest, f.history_index) for f in by_diff_id if isinstance(f, SettingFinding)] == [
        ("history.pipe-to-shell", "sha256:d1", 2),
        ("history.chmod-777", "sha256:d2", 3),
    ]
    by_manifest = history_check.check_config(config, ["sha256:m0", "sha256:m1", "sha256:m2"])
    assert [f.layer_digest for f in by_manifest] == ["sha256:m1", "sha256:m2"]


@pytest.mark.parametrize(
    "config",
    [{}, {"history": "curl | sh"}, {"history": [None, 5, {"created_by": 7}, {"created_by": ""}]},
     {"history": [{"created_by": "RUN curl x | sh"}], "rootfs": {"diff_ids": "nope"}}],
)  # fmt: skip
def test_hostile_history_does_not_raise(history_check: HistoryCheck, config: dict[str, Any]) -> None:
    found = history_check.check_config(config)
    assert all(f.rule_id == "history.pipe-to-shell" and f.layer_digest == "" for f in found)


def test_long_commands_are_bounded(history_check: HistoryCheck) -> None:
    command = "RUN /bin/sh -c " + "curl https://x.example/" + "a" * 200_000 + " | sh"
    (finding,) = run(history_check, "RUN /bin/sh -c curl https://x.example/i | sh " + "x" * 500)
    assert len(finding.evidence) <= 200
    assert run(history_check, command) == []  # past MAX_COMMAND_CHARS: the pipe is not seen


def test_a_private_key_echoed_in_a_command_is_masked_whole(history_check: HistoryCheck) -> None:
    pem = rsa_pem()
    body = [line for line in pem.splitlines() if not line.startswith("-----")]
    command = "RUN /bin/sh -c echo '" + pem.replace("\n", "\\n") + "' > /root/.ssh/id_rsa && echo done"
    (finding,) = run(history_check, command)
    assert finding.rule_id == "history.secret-in-command" and "private key" in finding.message
    assert all(line[:16] not in finding.evidence for line in body)
    assert finding.evidence.startswith("RUN /bin/sh -c echo '********") and "id_rsa" in finding.evidence
