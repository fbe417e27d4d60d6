"""Settings that guard the data directory and the processes of ``moorage serve``: the umask, and the
fingerprint by which a child checks it read what its parent read (secrets included, never shown), and
how many HTTP workers it runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from moorage.settings import AUTO_WORKERS_MAX, Settings


@pytest.mark.parametrize(
    ("given", "kept"), [("0077", "0077"), ("027", "0027"), ("0o027", "0027"), (0o22, "0022"), ("0", "0000")]
)
def test_umask_is_octal(given: object, kept: str) -> None:
    settings = Settings(umask=given)  # type: ignore[arg-type]
    assert settings.umask == kept
    assert settings.umask_bits == int(kept, 8)


@pytest.mark.parametrize("given", ["0277", "0700", "0999", "u=rwx", "", "01777", -1, True])
def test_a_umask_that_locks_moorage_out_or_is_not_octal_is_refused(given: object) -> None:
    with pytest.raises(ValidationError, match="umask"):
        Settings(umask=given)  # type: ignore[arg-type]


def test_the_default_umask_keeps_everything_private() -> None:
    assert Settings().umask_bits == 0o077


def test_fingerprint_covers_secrets_without_showing_them(tmp_path: Path) -> None:
    one = Settings(data_dir=tmp_path, auth={"master_key": "a" * 44, "admin_password": "first"})  # type: ignore[arg-type]
    same = Settings(data_dir=tmp_path, auth={"master_key": "a" * 44, "admin_password": "first"})  # type: ignore[arg-type]
    other = Settings(data_dir=tmp_path, auth={"master_key": "a" * 44, "admin_password": "second"})  # type: ignore[arg-type]
    salt = b"0123456789abcdef"
    assert one.fingerprint(salt) == same.fingerprint(salt)
    assert one.fingerprint(salt) != other.fingerprint(salt)  # the masks are equal, the secrets are not
    assert one.fingerprint(salt) != one.fingerprint(b"another salt....")
    assert one.model_dump_json().count("**********") == 2  # what the old JSON hand-over sent


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("::1", "http://[::1]:5000"),
        ("[::1]", "http://[::1]:5000"),
        ("127.0.0.5", "http://127.0.0.5:5000"),
        ("::", "http://127.0.0.1:5000"),
    ],
)
def test_the_default_external_url_brackets_an_ipv6_listen_address(host: str, url: str) -> None:
    assert Settings(host=host, port=5000).resolved_external_url == url


def test_an_app_listening_on_ipv6_loopback_builds(tmp_path: Path) -> None:
    from moorage.app import create_app

    create_app(Settings(host="::1", data_dir=tmp_path))


def test_invalid_settings_end_the_command_with_one_line_each_and_no_secret(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    secret = "postgresql://moorage:sup3r-secret-pw@127.0.0.1:1/db"
    env = {
        **os.environ,
        "MOORAGE_PORT": "not-a-port",
        "MOORAGE_AUTH__LOGIN_BACKOFF_SECONDS": secret,
        "MOORAGE_DATA_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "moorage", "admin", "user", "list"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines == [
        "moorage: invalid setting MOORAGE_PORT: Input should be a valid integer, unable to parse string as an integer",
        "moorage: invalid setting MOORAGE_AUTH__LOGIN_BACKOFF_SECONDS: Input should be a valid number, "
        "unable to parse string as a number",
    ]
    assert "sup3r" not in done.stderr + done.stdout


@pytest.mark.parametrize("schedule", ["0 0 0 * *", "0 61 * * * *", "every day"])
def test_a_retention_schedule_that_is_not_a_cron_is_refused_at_start(schedule: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(retention={"schedule": schedule})
    assert "cron" in str(caught.value)
    assert Settings(retention={"schedule": " "}).retention.schedule == ""  # empty: no schedule


def test_http_workers_follow_the_cpus_unless_set(tmp_path: Path) -> None:
    cpus = len(os.sched_getaffinity(0))
    assert Settings(data_dir=tmp_path, workers=0).http_workers == min(cpus, AUTO_WORKERS_MAX)
    assert Settings(data_dir=tmp_path, workers=3).http_workers == 3
    assert Settings.model_fields["workers"].default == 0  # the suite's servers set 1 (tests/conftest.py)
