"""The factory builds the right checks from scanner names, and every check keeps the contract."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from moorage.scanner.checks import (
    BaselineCheck,
    CheckError,
    CheckOptions,
    ConfigCheck,
    FileCheck,
    FilesystemCheck,
    HistoryCheck,
    ImageConfigCheck,
    MalwareCheck,
    SecretCheck,
    build_check_set,
)
from moorage.scanner.files import FileEntry, FileKind


def test_each_scanner_name_builds_its_checks() -> None:
    assert [type(c) for c in build_check_set(["secret"]).file_checks] == [SecretCheck]
    assert [type(c) for c in build_check_set(["malware"]).file_checks] == [MalwareCheck]
    config = build_check_set(["config", "vuln"])
    assert config.file_checks == ()
    assert [type(c) for c in config.filesystem_checks] == [BaselineCheck]
    assert [type(c) for c in config.config_checks] == [ImageConfigCheck, HistoryCheck]
    assert build_check_set(["vuln"]) == build_check_set([])


def test_unknown_scanner_is_a_clear_error() -> None:
    with pytest.raises(CheckError, match=r"unknown scanner.*secrets.*known: secret, malware, config, vuln"):
        build_check_set(["secrets"])


def test_every_check_keeps_the_interface() -> None:
    full = build_check_set(["secret", "malware", "config"])
    for file_check in full.file_checks:
        assert isinstance(file_check, FileCheck) and file_check.max_bytes > 0 and file_check.name
    for fs_check in full.filesystem_checks:
        assert isinstance(fs_check, FilesystemCheck) and fs_check.max_bytes > 0
    for config_check in full.config_checks:
        assert isinstance(config_check, ConfigCheck)


def test_options_reach_the_checks(tmp_path: Path) -> None:
    words = tmp_path / "words.txt"
    words.write_text("# ours\ncorrect-horse\n")
    rule = tmp_path / "ours.yar"
    rule.write_text('rule ours { strings: $a = "OURS" condition: $a }\n')
    options = CheckOptions(yara_rule_files=(rule,), replace_shipped_malware_rules=True, weak_password_files=(words,))
    checks = build_check_set(["malware", "config"], options)
    (malware,) = checks.file_checks
    assert isinstance(malware, MalwareCheck) and malware.blocklist_size == 0
    (baseline,) = checks.filesystem_checks
    hashed = subprocess.run(
        ["openssl", "passwd", "-6", "-salt", "saltsalt", "correct-horse"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    passwd, shadow = b"root:x:0:0::/root:/bin/sh\n", f"root:{hashed}:1::::::\n".encode()
    view = {
        "/etc/passwd": (FileEntry("/etc/passwd", FileKind.REGULAR, len(passwd), 0o644), passwd),
        "/etc/shadow": (FileEntry("/etc/shadow", FileKind.REGULAR, len(shadow), 0o640), shadow),
    }
    assert [f.rule_id for f in baseline.check_filesystem(view)] == ["baseline.weak-password"]
    assert BaselineCheck().check_filesystem(view) == []
    with pytest.raises(CheckError):
        build_check_set(["config"], CheckOptions(weak_password_files=(tmp_path / "missing.txt",)))


def test_secret_allowlists() -> None:
    options = CheckOptions(disabled_secret_rules=("secret.jwt",), secret_skipped_paths=("/opt/vendor/",))
    (secret,) = build_check_set(["secret"], options).file_checks
    assert isinstance(secret, SecretCheck)
    assert "secret.jwt" not in {rule.rule_id for rule in secret.rules} and len(secret.rules) > 20
    assert not secret.wants(FileEntry("/opt/vendor/keys.txt", FileKind.REGULAR, 10, 0o644))
    assert secret.wants(FileEntry("/opt/app/keys.txt", FileKind.REGULAR, 10, 0o644))
    with pytest.raises(CheckError, match="unknown secret rule"):
        build_check_set(["secret"], CheckOptions(disabled_secret_rules=("secret.nope",)))
