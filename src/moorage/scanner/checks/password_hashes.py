"""Crypt(3) password hashes: which scheme, whether it is weak, and checking a guess against it.

Verification goes through the system's libcrypt (libxcrypt on current distributions) by ctypes
``crypt_rn``, not Python's ``crypt`` module, which is deprecated and gone in Python 3.13. Every
hash read from an image is untrusted: its cost parameters are checked *before* hashing, because
``$6$rounds=999999999$`` takes minutes per guess and a large yescrypt N takes gigabytes. Hashes
above the distributions' default costs are not tried (a costly hash is not a weak one anyway).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from moorage.scanner.checks.errors import BlocklistError

SHIPPED_WORD_LIST = Path(__file__).parent / "rules" / "weak-passwords.txt"
"""The shipped weak-password dictionary."""

_ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_DES = re.compile(r"[./0-9A-Za-z]{13}")
_BSDI = re.compile(r"_[./0-9A-Za-z]{19}")
_SHA_ROUNDS = re.compile(r"\$[56]\$rounds=([0-9]{1,10})\$")
_BCRYPT_COST = re.compile(r"\$2[abxy]?\$([0-9]{2})\$")
_MAX_SHA_ROUNDS = 20_000
_MAX_BCRYPT_COST = 10
_MAX_YESCRYPT_N = _ITOA64.index("9")  # N = 2**12, as Debian's and Fedora's default j9T
_MAX_YESCRYPT_R = _ITOA64.index("T")  # r = 32
_CRYPT_DATA_SIZE = 32768  # sizeof(struct crypt_data) in libxcrypt and glibc


class HashScheme(StrEnum):
    """What a shadow password field holds."""

    EMPTY = "empty"
    LOCKED = "locked"
    DES = "des"
    BSDI_DES = "bsdi-des"
    MD5 = "md5"
    NTHASH = "nthash"
    BCRYPT = "bcrypt"
    SHA256 = "sha256"
    SHA512 = "sha512"
    YESCRYPT = "yescrypt"
    GOST_YESCRYPT = "gost-yescrypt"
    SCRYPT = "scrypt"
    OTHER = "other"


WEAK_SCHEMES = frozenset({HashScheme.DES, HashScheme.BSDI_DES, HashScheme.MD5, HashScheme.NTHASH})
"""Schemes broken by brute force on commodity hardware."""

_PREFIXES = (
    ("$1$", HashScheme.MD5),
    ("$3$", HashScheme.NTHASH),
    ("$2", HashScheme.BCRYPT),
    ("$5$", HashScheme.SHA256),
    ("$6$", HashScheme.SHA512),
    ("$y$", HashScheme.YESCRYPT),
    ("$gy$", HashScheme.GOST_YESCRYPT),
    ("$7$", HashScheme.SCRYPT),
)


def hash_scheme(field: str) -> HashScheme:
    """Classify a shadow (or passwd) password field."""
    if field == "":
        return HashScheme.EMPTY
    if field[0] in "!*" or field in ("x", "LK", "NP"):
        return HashScheme.LOCKED
    for prefix, scheme in _PREFIXES:
        if field.startswith(prefix):
            return scheme
    if _DES.fullmatch(field):
        return HashScheme.DES
    if _BSDI.fullmatch(field):
        return HashScheme.BSDI_DES
    return HashScheme.OTHER


def affordable(field: str) -> bool:
    """True when trying a guess against this hash costs at most a distribution default."""
    scheme = hash_scheme(field)
    if scheme in (HashScheme.DES, HashScheme.BSDI_DES, HashScheme.MD5):
        return True
    if scheme in (HashScheme.SHA256, HashScheme.SHA512):
        rounds = _SHA_ROUNDS.match(field)
        return rounds is None or int(rounds.group(1)) <= _MAX_SHA_ROUNDS
    if scheme is HashScheme.BCRYPT:
        cost = _BCRYPT_COST.match(field)
        return cost is not None and int(cost.group(1)) <= _MAX_BCRYPT_COST
    if scheme in (HashScheme.YESCRYPT, HashScheme.GOST_YESCRYPT):
        params = field.split("$")[2] if field.count("$") >= 3 else ""
        if len(params) != 3 or params[0] != "j" or any(c not in _ITOA64 for c in params):
            return False
        return _ITOA64.index(params[1]) <= _MAX_YESCRYPT_N and _ITOA64.index(params[2]) <= _MAX_YESCRYPT_R
    return False


def read_word_list(path: Path) -> tuple[str, ...]:
    """A password dictionary: one word per line, ``#`` comments; ``BlocklistError`` if unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise BlocklistError(f"cannot read word list {path}: {error}") from error
    words = (line.strip() for line in text.splitlines())
    return tuple(dict.fromkeys(w for w in words if w and not w.startswith("#")))


@dataclass(frozen=True, slots=True)
class CryptLibrary:
    """The system's libcrypt, to verify a guess against a crypt(3) hash."""

    _crypt_rn: Callable[[bytes, bytes, Any, int], bytes | None]
    """libcrypt's thread-safe ``crypt_rn(phrase, setting, data, size)``."""

    @classmethod
    def load(cls) -> CryptLibrary | None:
        """Load libcrypt; None when the system has none (the dictionary check is then skipped)."""
        name = ctypes.util.find_library("crypt")
        if name is None:
            return None
        try:
            function = ctypes.CDLL(name).crypt_rn
        except (OSError, AttributeError):
            return None
        function.restype = ctypes.c_char_p
        function.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int]
        return cls(function)

    def matches(self, guess: str, field: str) -> bool:
        """True when ``guess`` hashes to ``field``; call only on ``affordable`` hashes."""
        buffer = ctypes.create_string_buffer(_CRYPT_DATA_SIZE)
        result = self._crypt_rn(guess.encode(), field.encode(), buffer, _CRYPT_DATA_SIZE)
        return result is not None and bytes(result) == field.encode()
