"""``prepare_data_dir``: the umask every data-writing command runs with, the data directory's mode,
and warnings about a data directory or configuration file more open than that."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from moorage.bootstrap import prepare_data_dir
from moorage.settings import Settings


@pytest.fixture(autouse=True)
def restore_umask(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("MOORAGE_CONFIG", raising=False)
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_data_directory_is_private_and_so_is_what_is_written_in_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "deep" / "data"
    prepare_data_dir(Settings(data_dir=data_dir))
    assert _mode(data_dir) == 0o700 and _mode(data_dir.parent) == 0o700
    (data_dir / "blob").write_bytes(b"x")  # any file the process creates from now on
    assert _mode(data_dir / "blob") == 0o600


def test_the_umask_setting_lets_the_group_in(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    prepare_data_dir(Settings(data_dir=data_dir, umask="0027"))
    assert _mode(data_dir) == 0o750
    (data_dir / "db").write_bytes(b"x")
    assert _mode(data_dir / "db") == 0o640


def test_an_older_open_data_directory_is_kept_and_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    os.chmod(data_dir, 0o755)
    with caplog.at_level(logging.WARNING):
        prepare_data_dir(Settings(data_dir=data_dir))
    assert _mode(data_dir) == 0o755
    assert "mode 0755, more open than the umask 0077 allows" in caplog.text


def test_a_configuration_file_others_can_read_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    config = tmp_path / "moorage.toml"
    config.write_text("[auth]\nadmin_password = 'secret-password'\n")
    os.chmod(config, 0o644)
    monkeypatch.setenv("MOORAGE_CONFIG", str(config))
    with caplog.at_level(logging.WARNING):
        prepare_data_dir(Settings(data_dir=tmp_path / "data"))
    assert "chmod 600" in caplog.text
    caplog.clear()
    os.chmod(config, 0o600)
    with caplog.at_level(logging.WARNING):
        prepare_data_dir(Settings(data_dir=tmp_path / "data"))
    assert "chmod 600" not in caplog.text
