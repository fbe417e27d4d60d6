"""Access keys (AK/SK): at most two per user, the secret stored encrypted with the master key and
shown once, at creation.

A principal manages its own keys, and a domain administrator those of its domain's users; the
operator (``moorage admin``) every key (see ``domain.identity.Caller``).
"""

from __future__ import annotations

import logging
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from moorage.auth.keys import MasterKey, SecretDecryptionError
from moorage.domain.errors import Denied, NotFound, QuotaExceeded
from moorage.domain.events import NewEvent, Operation, ResourceType, account_event
from moorage.domain.identity import AccessKey, Caller, Operator, Principal, User, long_term_password
from moorage.metadata.database import Database
from moorage.metadata.queries import identity as q
from moorage.services.events.recorder import record_events
from moorage.services.users import UserService

log = logging.getLogger(__name__)

MAX_ACCESS_KEYS = 2
"""IAM allows two access keys per user."""


@dataclass(frozen=True, slots=True)
class NewAccessKey:
    """An access key with its secret, as shown once at creation."""

    key: AccessKey
    secret: str


@dataclass(frozen=True, slots=True)
class CredentialsPage:
    """What the console's users and keys page shows: the account's users (for an administrator;
    empty otherwise), the user's own access keys, and a key just created with its login (once)."""

    users: tuple[User, ...]
    keys: tuple[AccessKey, ...]
    created: NewAccessKey | None = None
    login: tuple[str, str] | None = None


def _context(access: str) -> str:
    """What an SK's encryption is bound to: its AK."""
    return f"access-key:{access}"


class AccessKeyService:
    """Create, list, change and delete access keys; find an enabled key's secret to check a signature."""

    def __init__(self, db: Database, *, master_key: MasterKey, users: UserService) -> None:
        self.db = db
        self.master_key = master_key
        self.users = users

    async def _check_owner(self, caller: Caller, user_id: str) -> None:
        """The caller may manage ``user_id``'s keys (``NotFound`` otherwise: no user it may see)."""
        user = await self.users.user(user_id)
        if user is None or (
            not isinstance(caller, Operator)
            and (user.domain_id != caller.domain_id or (user.id != caller.user_id and not caller.is_admin))
        ):
            raise NotFound(f"no user {user_id!r}")

    async def create_access_key(self, user_id: str, *, caller: Caller, description: str = "") -> NewAccessKey:
        """A new AK/SK for a user; the SK is returned once, and stored encrypted."""
        await self._check_owner(caller, user_id)
        access = "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(20))
        secret = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(40))
        sealed = self.master_key.encrypt(secret, context=_context(access))

        def work(conn: Connection) -> AccessKey:
            if len(q.list_access_keys(conn, user_id)) >= MAX_ACCESS_KEYS:
                raise QuotaExceeded(f"the user already has {MAX_ACCESS_KEYS} access keys", reason="access_key_quota")
            created = q.create_access_key(
                conn, access=access, user_id=user_id, description=description, secret_encrypted=sealed
            )
            record_events(conn, _key_event(Operation.CREATE, access, user_id))
            return created

        return NewAccessKey(await self.db.write(work), secret)

    async def create_with_login(
        self, user_id: str, *, caller: Caller, description: str, region: str
    ) -> tuple[NewAccessKey, tuple[str, str]]:
        """A new access key and its long-term registry login (user name, password), both shown once."""
        created = await self.create_access_key(user_id, caller=caller, description=description)
        return created, (f"{region}@{created.key.access}", long_term_password(created.key.access, created.secret))

    async def credentials_page(self, principal: Principal) -> CredentialsPage:
        """The account's users (administrators see them) and the principal's own access keys."""
        found = await self.users.users(caller=principal) if principal.is_admin else []
        return CredentialsPage(tuple(found), tuple(await self.access_keys(caller=principal)))

    async def create_for_page(self, principal: Principal, *, description: str, region: str) -> CredentialsPage:
        """A new access key of the principal, then the page with it (its secret and long-term login
        shown this once)."""
        if principal.user_id is None:
            raise Denied("a user is required")
        created, login = await self.create_with_login(
            principal.user_id, caller=principal, description=description, region=region
        )
        page = await self.credentials_page(principal)
        return CredentialsPage(page.users, page.keys, created, login)

    async def access_keys(self, *, caller: Caller, user_id: str | None = None) -> list[AccessKey]:
        """A user's access keys, without secrets (default: the caller's own; the operator's: every key)."""
        if user_id is None:
            if isinstance(caller, Operator):
                return await self.db.read(q.list_access_keys)
            user_id = caller.user_id or ""
        owner = user_id
        await self._check_owner(caller, owner)
        return await self.db.read(lambda conn: q.list_access_keys(conn, owner))

    async def access_key(self, access: str, *, caller: Caller) -> AccessKey:
        """An access key the caller may manage."""
        found = await self.db.read(lambda conn: q.access_key(conn, access[:40]))
        if found is None:
            raise NotFound(f"no access key {access!r}")
        await self._check_owner(caller, found[0].user_id)
        return found[0]

    async def update_access_key(
        self, access: str, *, caller: Caller, enabled: bool | None = None, description: str | None = None
    ) -> AccessKey:
        """Enable, disable or re-describe an access key (None: left as it is)."""
        key = await self.access_key(access, caller=caller)

        def work(conn: Connection) -> None:
            q.update_access_key(conn, key.access, enabled=enabled, description=description)
            changed = {"enabled": enabled} if enabled is not None else {}
            record_events(conn, _key_event(Operation.UPDATE, key.access, key.user_id, changed))

        await self.db.write(work)
        return await self.access_key(access, caller=caller)

    async def delete_access_key(self, access: str, *, caller: Caller) -> None:
        """Delete an access key."""
        key = await self.access_key(access, caller=caller)

        def work(conn: Connection) -> None:
            q.delete_access_key(conn, key.access)
            record_events(conn, _key_event(Operation.DELETE, key.access, key.user_id))

        await self.db.write(work)

    async def access_key_secret(self, access: str) -> tuple[User, str] | None:
        """(owner, SK) of an enabled access key whose owner is enabled, else None."""
        found = await self.db.read(lambda conn: q.access_key(conn, access[:40]))
        if found is None or not found[0].enabled:
            return None
        user = await self.users.user(found[0].user_id)
        if user is None or not user.enabled:
            return None
        try:
            return user, self.master_key.decrypt(found[1], context=_context(found[0].access))
        except SecretDecryptionError:
            log.error("access key %s cannot be decrypted with the configured master key", found[0].access)
            return None


def _key_event(operation: Operation, access: str, user_id: str, detail: Mapping[str, object] | None = None) -> NewEvent:
    """The event of an access key created, changed or deleted (its id, never its secret)."""
    return account_event(operation, ResourceType.ACCESS_KEY, access, detail={"user_id": user_id, **(detail or {})})
