"""Registry credentials of Enterprise Edition instances (CreateInstanceLtCredential,
ListInstanceLtCredentials, UpdateInstanceLtCredential, DeleteInstanceLtCredential,
CreateInstanceTempCredential) and their check at login.

A credential belongs to one user and one instance: ``docker login <instance host> -u <user name>
-p <auth_token>`` logs in as that user on that instance only, with the user's own rights as they are
at each request (never more). The ``auth_token`` names its credential (``mrc1.<id>.<secret>``); only a
keyed hash of the secret is stored, so it is shown once, at creation. Every use reads the credential's
row (a login, each request with Basic credentials, each request with a bearer token issued for it, a
refresh), so disabling or deleting one refuses its next request on every node. A temporary credential
expires after ``MOORAGE_ENTERPRISE__TEMPORARY_CREDENTIAL_TTL_SECONDS`` (6 hours, as SWR's temporary
login commands).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from moorage.auth.keys import MasterKey
from moorage.domain.clock import now_ms
from moorage.domain.enterprise import Page, PageRequest
from moorage.domain.enterprise_access import (
    CredentialKind,
    InstanceCredential,
    IssuedCredential,
    validate_credential_name,
)
from moorage.domain.errors import Conflict, Denied, NotFound, QuotaExceeded
from moorage.domain.events import NewEvent, Operation, ResourceType, change_event
from moorage.domain.identity import Principal
from moorage.metadata.database import Database
from moorage.metadata.queries import enterprise_access as q
from moorage.metadata.queries import enterprise_instances as instances_q
from moorage.services.events.recorder import record_events

TOKEN_PREFIX = "mrc1"  # noqa: S105 (the shape of a token, not a secret)
_TOKEN = re.compile(r"^mrc1\.([0-9a-f]{32})\.([A-Za-z0-9_-]{43})$")
"""An ``auth_token``: the prefix, the credential id, and 32 random bytes (base64url)."""


@dataclass(frozen=True, slots=True)
class CredentialLimits:
    """Bounds of the credentials (settings)."""

    long_term_per_user: int
    temporary_per_user: int
    temporary_ttl_seconds: int


def looks_like_token(password: str) -> bool:
    """Whether a password has the shape of an instance credential's ``auth_token``."""
    return _TOKEN.fullmatch(password) is not None


class InstanceCredentialService:
    """Create, list, enable/disable, delete and check instance credentials."""

    def __init__(self, db: Database, master_key: MasterKey, limits: CredentialLimits) -> None:
        self.db = db
        self.limits = limits
        self._key = master_key.derive("instance-credential")

    def _hash(self, secret: str) -> str:
        return hmac.new(self._key, secret.encode(), hashlib.sha256).hexdigest()

    async def create_long_term(self, principal: Principal, instance_id: str, name: str) -> IssuedCredential:
        """A new long-term credential of the caller on the instance (its secret shown this once)."""
        validate_credential_name(name)
        return await self._create(principal, instance_id, CredentialKind.LONG_TERM, name)

    async def create_temporary(self, principal: Principal, instance_id: str) -> IssuedCredential:
        """A new temporary credential of the caller on the instance."""
        return await self._create(principal, instance_id, CredentialKind.TEMPORARY, "")

    async def _create(
        self, principal: Principal, instance_id: str, kind: CredentialKind, name: str
    ) -> IssuedCredential:
        user_id = principal.user_id
        if user_id is None:
            raise Denied("a user is required")
        credential_id = secrets.token_hex(16)
        secret = secrets.token_urlsafe(32)
        now = now_ms()
        expires_at = now + self.limits.temporary_ttl_seconds * 1000 if kind is CredentialKind.TEMPORARY else 0

        def work(conn: Connection) -> InstanceCredential:
            instance = instances_q.get_instance(conn, instance_id)
            if instance is None or instance.domain_id != principal.domain_id:
                raise NotFound(f"instance {instance_id!r} not found", reason="instance_not_found")
            if kind is CredentialKind.LONG_TERM:
                if q.credential_named(conn, instance_id, user_id, name):
                    raise Conflict(f"a long-term credential called {name!r} exists", reason="credential_exists")
                if q.count_long_term(conn, instance_id, user_id) >= self.limits.long_term_per_user:
                    raise QuotaExceeded(
                        f"a user has at most {self.limits.long_term_per_user} long-term credentials per instance"
                    )
            else:
                q.purge_expired(conn, now)
                if q.count_temporary(conn, instance_id, user_id) >= self.limits.temporary_per_user:
                    raise QuotaExceeded(
                        f"a user has at most {self.limits.temporary_per_user} unexpired temporary credentials "
                        "per instance"
                    )
            credential = InstanceCredential(
                credential_id,
                instance_id,
                user_id,
                principal.user_name,
                kind,
                name or credential_id,
                True,
                now,
                expires_at,
            )
            q.add_credential(conn, credential, self._hash(secret))
            record_events(conn, _changed(Operation.CREATE, credential, principal.domain_id))
            return credential

        created = await self.db.write(work)
        return IssuedCredential(created, f"{TOKEN_PREFIX}.{credential_id}.{secret}")

    async def list_long_term(
        self, principal: Principal, instance_id: str, *, self_only: bool, page: PageRequest
    ) -> Page[InstanceCredential]:
        """The caller's long-term credentials on the instance (everyone's, for a domain administrator
        asking with ``self_only`` false)."""
        owner = None if (principal.is_admin and not self_only) else principal.user_id or ""
        return await self.db.read(
            lambda conn: q.list_long_term(conn, instance_id, user_id=owner, offset=page.offset, limit=page.limit)
        )

    async def set_enabled(self, principal: Principal, instance_id: str, credential_id: str, enabled: bool) -> None:
        """Enable or disable a long-term credential (the caller's, or any for a domain administrator)."""

        def work(conn: Connection) -> None:
            credential = _owned(conn, principal, instance_id, credential_id)
            q.set_credential_enabled(conn, credential_id, enabled)
            record_events(conn, _changed(Operation.UPDATE, credential, principal.domain_id, {"enable": enabled}))

        await self.db.write(work)

    async def delete(self, principal: Principal, instance_id: str, credential_id: str) -> None:
        """Delete a long-term credential (the caller's, or any for a domain administrator)."""

        def work(conn: Connection) -> None:
            credential = _owned(conn, principal, instance_id, credential_id)
            q.delete_credential(conn, credential_id)
            record_events(conn, _changed(Operation.DELETE, credential, principal.domain_id))

        await self.db.write(work)

    # Logins -------------------------------------------------------------------------------------
    async def verify(self, *, instance_id: str, user_name: str, token: str) -> InstanceCredential | None:
        """The credential ``token`` stands for, if it is genuine, usable now, of this instance and of
        the user called ``user_name``; else None."""
        match = _TOKEN.fullmatch(token)
        if match is None:
            return None
        credential_id, secret = match.group(1), match.group(2)
        found = await self.db.read(lambda conn: q.credential_for_login(conn, credential_id))
        if found is None:
            return None
        credential, stored_hash = found
        if not hmac.compare_digest(stored_hash, self._hash(secret)):
            return None
        if credential.instance_id != instance_id or credential.user_name != user_name:
            return None
        return credential if credential.usable(now_ms()) else None

    async def active(self, credential_id: str, *, instance_id: str, user_id: str) -> bool:
        """Whether a credential still exists, is enabled and unexpired, and is the user's on this
        instance (checked on each request with a bearer token or refresh token issued for it)."""
        found = await self.db.read(lambda conn: q.credential_for_login(conn, credential_id))
        if found is None:
            return False
        credential = found[0]
        return credential.instance_id == instance_id and credential.user_id == user_id and credential.usable(now_ms())


def _owned(conn: Connection, principal: Principal, instance_id: str, credential_id: str) -> InstanceCredential:
    """A long-term credential of the instance the caller may change (theirs; any, for a domain administrator)."""
    credential = q.get_credential(conn, instance_id, credential_id)
    if (
        credential is None
        or credential.kind is not CredentialKind.LONG_TERM
        or (credential.user_id != principal.user_id and not principal.is_admin)
    ):
        raise NotFound(f"long-term credential {credential_id!r} not found", reason="credential_not_found")
    return credential


def _changed(
    operation: Operation, credential: InstanceCredential, domain_id: str | None, detail: dict[str, object] | None = None
) -> NewEvent:
    return change_event(
        operation,
        ResourceType.CREDENTIAL,
        instance_id=credential.instance_id,
        resource=credential.id,
        domain_id=domain_id,
        detail={"kind": str(credential.kind), "name": credential.name, "user": credential.user_name, **(detail or {})},
    )
