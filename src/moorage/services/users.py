"""Users, their domains (tenants) and projects.

The API and ``moorage admin`` call the same methods. Operations with authority over accounts take
the ``caller``: a ``Principal`` acts within its own domain; ``OPERATOR``, whoever runs
``moorage admin`` on the server's own database, acts on every domain.
"""

from __future__ import annotations

import secrets
import string
import time
from collections import OrderedDict

import anyio.to_thread
from sqlalchemy.engine import Connection

from moorage.auth.passwords import PasswordHashing
from moorage.domain.errors import Conflict, Denied, Invalid, NotFound
from moorage.domain.events import Operation, ResourceType, account_event
from moorage.domain.identity import OPERATOR, Caller, Operator, Principal, Project, User
from moorage.metadata.database import Database
from moorage.metadata.queries import identity as q
from moorage.services.events.recorder import record_events
from moorage.settings.sections import AuthSettings

USER_CACHE_SECONDS = 5.0
"""How long ``user_recently`` trusts what the database said about a user."""
USER_CACHE_ENTRIES = 4096
_NAME_CHARS = frozenset(string.ascii_letters + string.digits + "-_.")


def new_id() -> str:
    """A 32-hex-character id, the shape of IAM's ids."""
    return secrets.token_hex(16)


def validate_user_name(name: str) -> str:
    """User and domain names: 1-64 letters, digits, ``-``, ``_``, ``.``; not starting with a digit."""
    if not 1 <= len(name) <= 64 or not set(name) <= _NAME_CHARS or name[0].isdigit():
        raise Invalid(f"invalid name {name!r}: 1-64 letters, digits, '-', '_' or '.', not starting with a digit")
    return name


def principal_of(user: User, *, via: str, project_id: str | None = None) -> Principal:
    """The principal of an authenticated user (``via``: how they proved it)."""
    return Principal(
        user_id=user.id,
        user_name=user.name,
        domain_id=user.domain_id,
        domain_name=user.domain_name,
        project_id=project_id,
        is_admin=user.is_admin,
        via=via,
    )


class UserService:
    """Users, domains and projects."""

    def __init__(self, db: Database, *, region: str, admin_user: str, hashing: PasswordHashing | None = None) -> None:
        self.db = db
        self.hashing = hashing or PasswordHashing()
        self.region = region
        self.admin_user = admin_user
        self._recent: OrderedDict[str, tuple[float, User | None]] = OrderedDict()

    @classmethod
    def from_settings(cls, db: Database, settings: AuthSettings) -> UserService:
        """The service as the settings configure it (region, first administrator, password hashing)."""
        return cls(
            db, region=settings.region, admin_user=settings.admin_user, hashing=PasswordHashing.from_settings(settings)
        )

    async def create_user(
        self, *, name: str, password: str, caller: Caller, domain_name: str | None = None, is_admin: bool = False
    ) -> User:
        """A new user. A principal creates plain users of its own domain (``POST /v3/users``); the
        operator names any domain (default: a new one named after the user, made with its project)
        and may make the user its administrator."""
        validate_user_name(name)
        if isinstance(caller, Operator):
            domain_name = validate_user_name(domain_name or name)
        else:
            if not caller.domain_id or is_admin or domain_name not in (None, caller.domain_name):
                raise Denied("users can only be created as plain users of the caller's own domain")
            domain_name = caller.domain_name
        if len(password) < 8:
            raise Invalid("a password needs at least 8 characters")
        password_hash = await anyio.to_thread.run_sync(self.hashing.hash, password)  # argon2: off the event loop
        chosen_domain = domain_name

        def work(conn: Connection) -> User:
            if q.user_by_name(conn, name) is not None:
                raise Conflict(f"user {name!r} already exists")
            domain = q.domain_by_name(conn, chosen_domain) or q.create_domain(conn, new_id(), chosen_domain)
            q.ensure_project(conn, project_id=new_id(), domain_id=domain.id, name=self.region)
            user_id = new_id()
            q.create_user(
                conn, user_id=user_id, name=name, domain_id=domain.id, password_hash=password_hash, is_admin=is_admin
            )
            user = q.user_by_id(conn, user_id)
            assert user is not None
            record_events(
                conn,
                account_event(
                    Operation.CREATE, ResourceType.USER, name, domain_id=domain.id, detail={"admin": is_admin}
                ),
            )
            return user

        return await self.db.write(work)

    async def bootstrap_admin(self, password: str | None) -> str | None:
        """On first start (no user at all) create the administrator; return the generated password
        when none was configured (the caller prints it once), else None."""
        if await self.db.read(q.count_users):
            return None
        generated = password is None
        password = password or secrets.token_urlsafe(18)
        await self.create_user(name=self.admin_user, password=password, caller=OPERATOR, is_admin=True)
        return password if generated else None

    async def users(self, *, caller: Caller) -> list[User]:
        """The users of the caller's domain (the operator: every user)."""
        if isinstance(caller, Operator):
            return await self.db.read(q.list_users)
        domain_id = caller.domain_id
        if domain_id is None:
            return []
        return await self.db.read(lambda conn: q.list_users(conn, domain_id))

    async def user(self, user_id: str) -> User | None:
        """A user by id."""
        return await self.db.read(lambda conn: q.user_by_id(conn, user_id))

    async def user_named(self, name: str) -> User:
        """A user by name (``NotFound`` when there is none)."""
        found = await self.db.read(lambda conn: q.user_by_name(conn, name))
        if found is None:
            raise NotFound(f"no user {name!r}")
        return found[0]

    async def user_recently(self, user_id: str) -> User | None:
        """A user by id, as the database said at most ``USER_CACHE_SECONDS`` ago: registry bearer
        tokens are checked against their user on every request, and this keeps that off the
        database (a disabled or deleted user loses access within those seconds)."""
        cached = self._recent.get(user_id)
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            return cached[1]
        user = await self.user(user_id)
        self._recent[user_id] = (now + USER_CACHE_SECONDS, user)
        while len(self._recent) > USER_CACHE_ENTRIES:
            self._recent.popitem(last=False)
        return user

    async def delete_user(self, user_id: str, *, caller: Caller) -> None:
        """Delete a user (their access keys and permissions go too): a principal only a user of its
        domain other than itself."""

        def work(conn: Connection) -> None:
            user = q.user_by_id(conn, user_id)
            if user is None or (isinstance(caller, Principal) and user.domain_id != caller.domain_id):
                raise NotFound(f"no user {user_id!r}")
            if isinstance(caller, Principal) and user.id == caller.user_id:
                raise Conflict("a user cannot delete themselves")
            q.delete_user(conn, user_id)
            record_events(conn, account_event(Operation.DELETE, ResourceType.USER, user.name, domain_id=user.domain_id))

        await self.db.write(work)

    async def projects(self, *, domain_id: str | None = None, name: str | None = None) -> list[Project]:
        """Projects (of one domain, with one name; None: any)."""
        return await self.db.read(lambda conn: q.list_projects(conn, domain_id=domain_id, name=name))

    async def project(self, project_id: str) -> Project | None:
        """A project by id."""
        return await self.db.read(lambda conn: q.project_by_id(conn, project_id))
