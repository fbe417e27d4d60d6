"""Password hashing with argon2id. The parameters are settings (``auth.password_hash_*``), by default
argon2-cffi's: RFC 9106's second recommended option (3 passes over 64 MiB, 4 lanes), about 0.2 s of
CPU per hash. Every hash carries its own parameters, so a hash made with other settings still
verifies: changing them never locks a user out, it only changes the cost of new passwords."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from moorage.settings.sections import AuthSettings


@dataclass(frozen=True)
class PasswordHashing:
    """argon2id with the configured cost."""

    time_cost: int = 3
    memory_kib: int = 64 * 1024
    parallelism: int = 4

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> PasswordHashing:
        """The hashing the settings ask for."""
        return cls(
            settings.password_hash_time_cost, settings.password_hash_memory_kib, settings.password_hash_parallelism
        )

    @cached_property
    def _hasher(self) -> PasswordHasher:
        return PasswordHasher(time_cost=self.time_cost, memory_cost=self.memory_kib, parallelism=self.parallelism)

    @cached_property
    def _dummy_hash(self) -> str:
        """A real hash to verify against when the user does not exist, so a login for an unknown
        user costs the same time as one for a known user (no user enumeration by timing)."""
        return self._hasher.hash("moorage-dummy-password")

    def hash(self, password: str) -> str:
        """The argon2id hash of ``password``."""
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches; ``password_hash`` None means "no such user" (still takes the
        time)."""
        try:
            return self._hasher.verify(password_hash or self._dummy_hash, password) and password_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
