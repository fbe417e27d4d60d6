"""Fixtures of the checks' tests: checks built once per session, secret generators, file entries."""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterator
from pathlib import Path

import pytest

from moorage.scanner.checks import CheckSet, build_check_set
from moorage.scanner.checks.baseline import BaselineCheck
from moorage.scanner.checks.malware import MalwareCheck
from moorage.scanner.checks.secrets import SecretCheck
from moorage.scanner.files import FileEntry, FileKind
from tests.support.tools import require_root, require_tool

from . import debian_rootfs


@pytest.fixture(scope="session")
def secret_check() -> SecretCheck:
    """The secret check with the shipped rules."""
    return SecretCheck()


@pytest.fixture(scope="session")
def malware_check() -> MalwareCheck:
    """The malware check with the shipped rules and blocklist."""
    return MalwareCheck()


@pytest.fixture(scope="session")
def baseline_check() -> BaselineCheck:
    """The baseline check with the shipped dictionary."""
    return BaselineCheck()


@pytest.fixture(scope="session")
def check_set() -> CheckSet:
    """Every check, as ``moorage scan --scanners secret,malware,config`` builds them."""
    return build_check_set(["secret", "malware", "config"])


@pytest.fixture(scope="session")
def debian_minbase_tar() -> Iterator[Path]:
    """The cached debootstrap bookworm minbase root filesystem tar (built on first use)."""
    if not debian_rootfs.debootstrap_available():  # no cached tar: build one (debootstrap chroots: root)
        require_tool("debootstrap")
        require_root("debootstrap builds the Debian root filesystem in a chroot")
    yield debian_rootfs.bookworm_minbase_tar()


def random_string(alphabet: str, length: int) -> str:
    """A random string; used to make secrets that exist nowhere but in the test."""
    return "".join(secrets.choice(alphabet) for _ in range(length))


UPPER_DIGITS = string.ascii_uppercase + string.digits
ALNUM = string.ascii_letters + string.digits
BASE64 = ALNUM + "+/"


def aws_key_pair() -> tuple[str, str]:
    """A fresh AWS-shaped (access key id, secret access key) pair."""
    return "AKIA" + random_string(string.ascii_uppercase + "234567", 16), random_string(BASE64, 40)


def file_entry(path: str, content: bytes = b"", *, mode: int = 0o644, layer: str = "sha256:layer") -> FileEntry:
    """A regular-file entry for ``content`` at ``path``."""
    return FileEntry(path=path, kind=FileKind.REGULAR, size=len(content), mode=mode, layer_digest=layer)
