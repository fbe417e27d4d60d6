"""Settings that guard the data directory and the processes of ``moorage serve``: the umask, and the
fingerprint by which a child checks it read what its parent read (secrets included, never shown)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from moorage.settings import Settings


@pytest.mark.parametrize(("given", "kept"), [("0077", "0077"), ("027", "0027"), ("0o027", "0027"), (0o22, "0022"),
                                             ("0", "0000")])
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
