"""Accounts and credentials: users, domains, projects, access keys, IAM tokens, docker logins.

Every way of proving who you are ends here and yields a ``Principal``: a password, an IAM token,
an AK/SK (its SK is decrypted to check a signature), a long-term login (``<region>@<AK>`` and the
HMAC of the AK keyed with the SK) or a temporary login. Failed logins are throttled per user name
and client address, and per user name (``login_throttle``), with counters every node shares.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import secrets
import string
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio.to_thread
from sqlalchemy.engine import Connection

from moorage.auth.keys import MasterKey, SecretDecryptionError
from moorage.auth.passwords import hash_password, verify_password
from moorage.auth.tokens import IamToken, TokenError, TokenSigner
from moorage.domain.errors import Conflict, Invalid, NotFound, QuotaExceeded, Unauthenticated
from moorage.domain.identity import AccessKey, Principal, Project, User
from moorage.metadata.database import Database, UnitOfWork
from moorage.metadata.queries import identity as q
from moorage.services.login_throttle import Attempt, LoginThrottle, build_login_throttle
from moorage.settings import AuthSettings

log = logging.getLogger(__name__)

USER_CACHE_SECONDS = 5.0
MAX_ACCESS_KEYS = 2

"""IAM allows two access keys per user."""
_NAME_CHARS = set(string.ascii_letters + string.digits + "-_.")


def new_id() -> str:
    """A 32-hex-character id, the shape of IAM's ids."""
    return secrets.token_hex(16)


def validate_user_name(name: str) -> str:
    """User and domain names: 1-64 letters, digits, ``-``, ``_``, ``.``; not starting with a digit."""
    if not 1 <= len(name) <= 64 or not set(name) <= _NAME_CHARS or name[0].isdigit():
        raise Invalid(f"invalid name {name!r}: 1-64 letters, digits, '-', '_' or '.', not starting with a digit")
    return name


@dataclass(frozen=True, slots=True)
class Login:
    """A registry login and the credential it used: what a refresh token issued for it is bound to."""

    principal: Principal
    binding: str
    """``password`` (bound to the password hash when a refresh token is issued), ``access-key:<AK>``,
    ``temporary:<login id>``, or a refresh token's binding."""
    not_after: int = 0
    """When the credential expires by itself (a temporary login); 0: never."""


@dataclass(frozen=True, slots=True)
class NewAccessKey:
    """An access key with its secret, as shown once at creation."""

    key: AccessKey
    secret: str


class IdentityService:
    """Users, credentials and tokens."""

    def __init__(self, db: Database, *, settings: AuthSettings, master_key: MasterKey, signer: TokenSigner,
                 throttle: LoginThrottle | None = None) -> None:
        self.db = db
        self.settings = settings
        self.master_key = master_key
        self.signer = signer
        self.throttle = throttle or build_login_throttle(db=db, settings=settings, master_key=master_key)
        self._binding_key = master_key.derive("refresh-token-binding")
        # Recently verified password logins (HMAC of user + password under a per-process key):
        # Basic credentials sent on every registry request would otherwise cost one argon2 each.
        self._verified: OrderedDict[bytes, tuple[float, str]] = OrderedDict()
        self._cache_key = secrets.token_bytes(32)
        self._recent_users: OrderedDict[str, tuple[float, User | None]] = OrderedDict()


    # Accounts -----------------------------------------------------------------------------------
    def _create_user_work(self, conn: Connection, *, name: str, password: str, domain_name: str,
                          is_admin: bool) -> User:
        if q.user_by_name(conn, name) is not None:
            raise Conflict(f"user {name!r} already exists")
        domain = q.domain_by_name(conn, domain_name) or q.create_domain(conn, new_id(), domain_name)
        q.ensure_project(conn, project_id=new_id(), domain_id=domain.id, name=self.settings.region)
        user_id = new_id()
        q.create_user(conn, user_id=user_id, name=name, domain_id=domain.id, password_hash=hash_password(password),
                      is_admin=is_admin)
        user = q.user_by_id(conn, user_id)
        assert user is not None
        return user

    def create_user(self, *, name: str, password: str, domain_name: str | None = None, is_admin: bool = False) -> User:
        """A new user; a new domain (with its project) is made when ``domain_name`` is new.
        (Synchronous: the CLI and bootstrap call it.)"""
        validate_user_name(name)
        domain_name = validate_user_name(domain_name or name)
        if len(password) < 8:
            raise Invalid("a password needs at least 8 characters")
        return self.db.run_write(lambda conn: self._create_user_work(
            conn, name=name, password=password, domain_name=domain_name, is_admin=is_admin))

    async def create_domain_user(self, principal: Principal, *, name: str, password: str) -> User:
        """A new (non-administrator) user in the caller's domain (``POST /v3/users``)."""
        validate_user_name(name)
        if len(password) < 8:
            raise Invalid("a password needs at least 8 characters")
        domain_name = principal.domain_name
        return await self.db.write(lambda conn: self._create_user_work(
            conn, name=name, password=password, domain_name=domain_name, is_admin=False))

    async def domain_users(self, domain_id: str) -> list[User]:
        """Users of one domain."""
        return await self.db.read(lambda conn: q.list_users(conn, domain_id))

    async def delete_domain_user(self, principal: Principal, user_id: str) -> None:
        """Delete a user of the caller's domain (not the caller)."""
        def work(conn: Connection) -> None:
            user = q.user_by_id(conn, user_id)
            if user is None or user.domain_id != principal.domain_id:
                raise NotFound(f"no user {user_id!r}")
            if user.id == principal.user_id:
                raise Conflict("a user cannot delete themselves")
            q.delete_user(conn, user_id)

        await self.db.write(work)

    def bootstrap_admin(self, password: str | None) -> str | None:
        """On first start (no user at all) create the administrator; return the generated password
        when none was configured (the caller prints it once), else None."""
        if self.db.run_read(q.count_users):
            return None
        generated = password is None
        password = password or secrets.token_urlsafe(18)
        self.create_user(name=self.settings.admin_user, password=password, is_admin=True)
        return password if generated else None

    def delete_user(self, name: str) -> None:
        """Delete a user by name."""
        found = self.db.run_read(lambda conn: q.user_by_name(conn, name))
        if found is None:
            raise NotFound(f"no user {name!r}")
        self.db.run_write(lambda conn: q.delete_user(conn, found[0].id))

    def list_users(self) -> list[User]:
        """Every user."""
        return self.db.run_read(q.list_users)

    async def projects(self, *, domain_id: str | None = None, name: str | None = None) -> list[Project]:
        """Projects (``GET /v3/projects``; the CLI)."""
        return await self.db.read(lambda conn: q.list_projects(conn, domain_id=domain_id, name=name))

    async def project(self, project_id: str) -> Project | None:
        """A project by id."""
        return await self.db.read(lambda conn: q.project_by_id(conn, project_id))

    async def user(self, user_id: str) -> User | None:
        """A user by id."""
        return await self.db.read(lambda conn: q.user_by_id(conn, user_id))

    async def user_recently(self, user_id: str) -> User | None:
        """A user by id, as the database said at most ``USER_CACHE_SECONDS`` ago: registry bearer
        tokens are checked against their user on every request, and this keeps that off the
        database (a disabled or deleted user loses access within those seconds)."""
        cached = self._recent_users.get(user_id)
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            return cached[1]
        user = await self.user(user_id)
        self._recent_users[user_id] = (now + USER_CACHE_SECONDS, user)
        while len(self._recent_users) > 4096:
            self._recent_users.popitem(last=False)
        return user


    # Passwords ----------------------------------------------------------------------------------
    async def authenticate_password(
        self, *, user_name: str, password: str, client: str, domain_name: str | None = None
    ) -> User:
        """The user, if the password is right. Throttled (``TooManyRequests``) per user name and
        client address, and per user name, by the failures counted before."""
        async with self.login_attempt(user_name=user_name, client=client, credential=password) as attempt:
            cache_key = hmac.new(self._cache_key, f"{user_name}\0{password}".encode(), hashlib.sha256).digest()
            cached = self._verified.get(cache_key)
            if cached is not None and cached[0] > time.monotonic():
                user = await self.user(cached[1])
                if user is not None and user.enabled and (domain_name is None or user.domain_name == domain_name):
                    await self.throttle.succeeded(attempt)
                    return user
            found = await self.db.read(lambda conn: q.user_by_name(conn, user_name))
            user, password_hash = found if found else (None, None)
            ok = await anyio.to_thread.run_sync(verify_password, password_hash, password)
            if not ok or user is None or not user.enabled or (
                    domain_name is not None and user.domain_name != domain_name):
                await self.record_failure(attempt, user_name=user_name, client=client,
                                          reason="wrong user name or password")
                raise Unauthenticated("the user name or password is wrong")
            await self.throttle.succeeded(attempt)
        self._verified[cache_key] = (time.monotonic() + 60, user.id)
        while len(self._verified) > 4096:
            self._verified.popitem(last=False)
        return user

    @contextlib.asynccontextmanager
    async def login_attempt(self, *, user_name: str, client: str,
                            credential: str | None) -> AsyncIterator[Attempt]:
        """Check credentials inside this: ``TooManyRequests`` when this user name must wait, and
        ``Unauthenticated`` at once (counted already) when these exact credentials failed from this
        address a moment ago; else the attempt to pass to ``record_failure`` (one attempt of a user
        name and address at a time in this process). ``credential`` None: a check whose outcome
        depends on more than a credential (a request signature), never taken for a repeat."""
        async with self.throttle.attempt(user_name=user_name, client=client, credential=credential) as attempt:
            if attempt is None:
                log.info("repeated failed login for %r from %s counted once", user_name[:64], client)
                raise Unauthenticated("the user name or password is wrong")
            yield attempt

    async def record_failure(self, attempt: Attempt, *, user_name: str, client: str, reason: str) -> None:
        """Count a failed login (once for the same credentials repeated within the repeat window)."""
        await self.throttle.failed(attempt)
        log.warning("authentication failed for %r from %s: %s", user_name[:64], client, reason)

    # IAM tokens ---------------------------------------------------------------------------------
    async def issue_token(self, user: User, *, project_id: str | None) -> tuple[str, IamToken]:
        """An IAM token for ``user``, scoped to a project of their domain (or the domain)."""
        return self.signer.issue_iam(user_id=user.id, domain_id=user.domain_id, project_id=project_id,
                                     ttl=self.settings.token_ttl_seconds)

    async def validate_token(self, token: str) -> tuple[IamToken, User]:
        """The token's claims and user, if it is valid, unrevoked and its user still enabled."""
        try:
            claims = self.signer.verify_iam(token)
        except TokenError as exc:
            raise Unauthenticated(f"invalid token: {exc}") from exc
        revoked = await self.db.read(lambda conn: q.is_revoked(conn, claims.token_id))
        user = await self.user(claims.user_id)
        if revoked or user is None or not user.enabled:
            raise Unauthenticated("the token has been revoked or its user no longer exists")
        return claims, user

    async def revoke_token(self, token: str) -> None:
        """Revoke an IAM token on every node (they all read the revocation list)."""
        claims, _user = await self.validate_token(token)
        await self.db.write(lambda conn: q.revoke_token(conn, claims.token_id, claims.expires_at))

    def principal(self, user: User, *, via: str, project_id: str | None = None) -> Principal:
        """The principal of an authenticated user."""
        return Principal(user_id=user.id, user_name=user.name, domain_id=user.domain_id, domain_name=user.domain_name,
                         project_id=project_id, is_admin=user.is_admin, via=via)

    # Access keys --------------------------------------------------------------------------------
    def _new_key_work(self, user_id: str, description: str) -> tuple[UnitOfWork[AccessKey], str]:
        access = "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(20))
        secret = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(40))

        def work(conn: Connection) -> AccessKey:
            if len(q.list_access_keys(conn, user_id)) >= MAX_ACCESS_KEYS:
                raise QuotaExceeded(f"the user already has {MAX_ACCESS_KEYS} access keys", reason="access_key_quota")
            return q.create_access_key(conn, access=access, user_id=user_id, description=description,
                                       secret_encrypted=self.master_key.encrypt(secret, context=f"access-key:{access}"))

        return work, secret

    def create_access_key(self, *, user_name: str, description: str = "") -> NewAccessKey:
        """A new AK/SK for a user (at most two each); the SK is returned once, and stored encrypted."""
        found = self.db.run_read(lambda conn: q.user_by_name(conn, user_name))
        if found is None:
            raise NotFound(f"no user {user_name!r}")
        work, secret = self._new_key_work(found[0].id, description)
        return NewAccessKey(self.db.run_write(work), secret)

    async def create_user_access_key(self, principal: Principal, *, user_id: str, description: str) -> NewAccessKey:
        """``POST /v3.0/OS-CREDENTIAL/credentials``: for oneself, or (administrators) a user of the domain."""
        await self._check_key_owner(principal, user_id)
        work, secret = self._new_key_work(user_id, description)
        return NewAccessKey(await self.db.write(work), secret)

    async def _check_key_owner(self, principal: Principal, user_id: str) -> None:
        user = await self.user(user_id)
        if user is None or user.domain_id != principal.domain_id or (
                user.id != principal.user_id and not principal.is_admin):
            raise NotFound(f"no user {user_id!r}")

    async def user_access_keys(self, principal: Principal, user_id: str) -> list[AccessKey]:
        """Access keys of oneself or (administrators) of a user of the domain."""
        await self._check_key_owner(principal, user_id)
        return await self.db.read(lambda conn: q.list_access_keys(conn, user_id))

    async def owned_access_key(self, principal: Principal, access: str) -> AccessKey:
        """An access key the principal may manage."""
        found = await self.db.read(lambda conn: q.access_key(conn, access[:40]))
        if found is None:
            raise NotFound(f"no access key {access!r}")
        await self._check_key_owner(principal, found[0].user_id)
        return found[0]

    async def update_access_key(self, principal: Principal, access: str, *, enabled: bool | None,
                                description: str | None) -> AccessKey:
        """Enable, disable or re-describe an access key."""
        key = await self.owned_access_key(principal, access)
        await self.db.write(lambda conn: q.update_access_key(conn, key.access, enabled=enabled,
                                                              description=description))
        return await self.owned_access_key(principal, access)

    async def remove_access_key(self, principal: Principal, access: str) -> None:
        """Delete an access key."""
        key = await self.owned_access_key(principal, access)
        await self.db.write(lambda conn: q.delete_access_key(conn, key.access))

    def list_access_keys(self, *, user_name: str | None = None) -> list[AccessKey]:
        """Access keys (without secrets)."""
        def work(conn: Connection) -> list[AccessKey]:
            if user_name is None:
                return q.list_access_keys(conn)
            found = q.user_by_name(conn, user_name)
            if found is None:
                raise NotFound(f"no user {user_name!r}")
            return q.list_access_keys(conn, found[0].id)

        return self.db.run_read(work)

    def set_access_key_enabled(self, access: str, enabled: bool) -> None:
        """Enable or disable an AK."""
        if not self.db.run_write(lambda conn: q.set_access_key_enabled(conn, access, enabled)):
            raise NotFound(f"no access key {access!r}")

    def delete_access_key(self, access: str) -> None:
        """Delete an AK."""
        if not self.db.run_write(lambda conn: q.delete_access_key(conn, access)):
            raise NotFound(f"no access key {access!r}")

    async def access_key_secret(self, access: str) -> tuple[User, str] | None:
        """(owner, SK) of an enabled access key whose owner is enabled, else None."""
        found = await self.db.read(lambda conn: q.access_key(conn, access[:40]))
        if found is None or not found[0].enabled:
            return None
        user = await self.user(found[0].user_id)
        if user is None or not user.enabled:
            return None
        try:
            return user, self.master_key.decrypt(found[1], context=f"access-key:{found[0].access}")
        except SecretDecryptionError:
            log.error("access key %s cannot be decrypted with the configured master key", found[0].access)
            return None

    # Docker logins ------------------------------------------------------------------------------
    async def authenticate_login(self, *, username: str, password: str, client: str) -> Principal:
        """Registry credentials: a user's password, a long-term login ``<region>@<AK>`` with the hex
        HMAC-SHA256 of the AK keyed with the SK, or a temporary login ``<region>@<id>``."""
        return (await self.login(username=username, password=password, client=client)).principal

    async def login(self, *, username: str, password: str, client: str) -> Login:
        """``authenticate_login`` with the credential used (for a refresh token)."""
        region, at, key_id = username.partition("@")
        if at and region == self.settings.region and key_id:
            async with self.login_attempt(user_name=username, client=client, credential=password) as attempt:
                found_login = await self._key_login(key_id, password)
                if found_login is None:
                    await self.record_failure(attempt, user_name=username, client=client, reason="bad login key")
                    raise Unauthenticated("the login credentials are wrong or expired")
                await self.throttle.succeeded(attempt)
                return found_login
        user = await self.authenticate_password(user_name=username, password=password, client=client)
        return Login(self.principal(user, via="password"), "password")

    async def _key_login(self, key_id: str, password: str) -> Login | None:
        """A long-term (``<region>@<AK>`` + HMAC) or temporary (``<region>@<id>`` + its password)
        login, or None when the credentials do not check out."""
        if len(password) == 64 and all(c in string.hexdigits for c in password):
            found = await self.access_key_secret(key_id)
            if found is not None:
                expected = hmac.new(found[1].encode(), key_id.encode(), hashlib.sha256).hexdigest()
                if hmac.compare_digest(expected, password.lower()):
                    return Login(self.principal(found[0], via="long-term"), f"access-key:{key_id}")
            return None
        try:
            claims = self.signer.verify_login(password)
        except TokenError:
            return None
        if hmac.compare_digest(claims.login_id, key_id):
            user = await self.user(claims.user_id)
            if user is not None and user.enabled:
                return Login(self.principal(user, via="temporary"), f"temporary:{claims.login_id}",
                             claims.expires_at)
        return None

    # Refresh tokens -----------------------------------------------------------------------------
    async def issue_refresh_token(self, login: Login, *, instance_id: str, client_id: str) -> str:
        """A refresh token for ``login``, bound to its user and to the credential it used."""
        user_id = login.principal.user_id
        if user_id is None:
            raise Unauthenticated("an anonymous caller gets no refresh token")
        binding = login.binding
        if binding == "password":
            current = await self.db.read(lambda conn: q.password_hash(conn, user_id))
            if current is None:
                raise Unauthenticated("the user no longer exists")
            binding = f"password:{self._fingerprint(current)}"
        token, _claims = self.signer.issue_refresh(
            user_id=user_id, instance_id=instance_id, client_id=client_id, binding=binding,
            ttl=self.settings.refresh_token_ttl_seconds, not_after=login.not_after)
        return token

    async def refresh(self, token: str, *, instance_id: str, client_id: str) -> Login:
        """The login a refresh token stands for, if it is genuine, for this registry instance, and
        its user and credential still exist and are enabled (read now, from the database every node
        shares: nothing to revoke in memory).

        The ``client_id`` is not checked against the one the token was issued to: registry clients
        are public OAuth clients that name themselves without authenticating (RFC 6749 section 10.4
        asks for the check only where the client can be authenticated), and one tool uses several
        names: dockerd logs in as ``docker`` and stores the refresh token, which the docker CLI's
        ``manifest`` commands then present as ``registry-client``. A different name is logged."""
        try:
            claims = self.signer.verify_refresh(token)
        except TokenError as exc:
            raise Unauthenticated(f"invalid refresh token: {exc}") from exc
        if claims.instance_id != instance_id:
            raise Unauthenticated("the refresh token was issued for another registry instance")
        if client_id != claims.client_id:
            log.info("refresh token %s of user %s issued to client %r used by client %r",
                     claims.token_id, claims.user_id, claims.client_id, client_id)
        user = await self.user(claims.user_id)
        if user is None or not user.enabled or not await self._binding_holds(claims.binding, user.id):
            log.warning("refresh token of user %s refused: user or credential gone", claims.user_id)
            raise Unauthenticated("the refresh token has been revoked: its user or credentials changed")
        return Login(self.principal(user, via="refresh"), claims.binding, claims.not_after)

    async def _binding_holds(self, binding: str, user_id: str) -> bool:
        kind, _, value = binding.partition(":")
        if kind == "password":
            current = await self.db.read(lambda conn: q.password_hash(conn, user_id))
            return current is not None and hmac.compare_digest(self._fingerprint(current), value)
        if kind == "access-key":
            found = await self.db.read(lambda conn: q.access_key(conn, value))
            return found is not None and found[0].enabled and found[0].user_id == user_id
        return kind == "temporary"  # its expiry is the token's own limit

    def _fingerprint(self, password_hash: str) -> str:
        """Names the current password hash without revealing it (a new password changes it)."""
        return hmac.new(self._binding_key, password_hash.encode(), hashlib.sha256).hexdigest()[:32]

    def issue_temporary_login(self, user: User) -> tuple[str, str, int]:
        """(username, password, expires at epoch seconds) of a temporary docker login."""
        password, claims = self.signer.issue_login(user_id=user.id, ttl=self.settings.temporary_login_ttl_seconds)
        return f"{self.settings.region}@{claims.login_id}", password, claims.expires_at

    def long_term_password(self, access: str, secret: str) -> str:
        """The long-term login password for an AK/SK, as ``docker login`` takes it."""
        return hmac.new(secret.encode(), access.encode(), hashlib.sha256).hexdigest()
