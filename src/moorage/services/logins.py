"""Proving who you are: passwords, IAM tokens, registry logins, refresh tokens, temporary logins.

Every way ends in a ``User`` or a ``Principal``: a password, an IAM token, a long-term login
(``<region>@<AK>`` and the HMAC of the AK keyed with the SK), a temporary login (``<region>@<id>``)
or a refresh token bound to the credential it was issued for. Failed logins are throttled per user
name and client address, and per user name (``login_throttle``), with counters every node shares;
an AK/SK signature check (``api/deps.py``) is throttled the same way through ``login_attempt``.
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
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from types import MappingProxyType

import anyio.to_thread

from moorage.auth.keys import MasterKey
from moorage.auth.tokens import IamToken, TokenError, TokenSigner
from moorage.domain.enterprise_access import CredentialKind
from moorage.domain.errors import Unauthenticated
from moorage.domain.events import Actor, NewEvent, current_context, login_event
from moorage.domain.identity import Principal, User, long_term_password
from moorage.domain.registry import DEFAULT_INSTANCE
from moorage.metadata.database import Database
from moorage.metadata.queries import identity as q
from moorage.services.access_keys import AccessKeyService
from moorage.services.enterprise.credentials import InstanceCredentialService, looks_like_token
from moorage.services.events.recorder import record_events
from moorage.services.login_throttle import Attempt, LoginThrottle
from moorage.services.users import UserService, principal_of
from moorage.settings.sections import AuthSettings

log = logging.getLogger(__name__)

VERIFIED_PASSWORD_SECONDS = 60.0
"""How long a checked user name and password pass again without argon2."""
VERIFIED_PASSWORD_ENTRIES = 4096
INSTANCE_CREDENTIAL_VIA = MappingProxyType(
    {CredentialKind.LONG_TERM: "ee-long-term", CredentialKind.TEMPORARY: "ee-temporary"}
)
"""A principal's ``via`` when it logged in with an instance credential."""
INSTANCE_CREDENTIAL_BINDING = "ee-credential:"
"""The binding of a login with an instance credential (``ee-credential:<id>``)."""


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
class TemporaryLogin:
    """A temporary docker login (``POST /v2/manage/utils/secret``)."""

    username: str
    """``<region>@<login id>``."""
    password: str
    expires_at: int
    """Epoch seconds."""


class LoginService:
    """Passwords, IAM tokens, registry logins, refresh tokens and temporary logins."""

    def __init__(
        self,
        db: Database,
        *,
        settings: AuthSettings,
        master_key: MasterKey,
        signer: TokenSigner,
        throttle: LoginThrottle,
        users: UserService,
        access_keys: AccessKeyService,
        note_event: Callable[[NewEvent], None] | None = None,
        instance_credentials: InstanceCredentialService | None = None,
    ) -> None:
        self.db = db
        self.instance_credentials = instance_credentials
        """Enterprise Edition instances' registry credentials (None: a deployment without them)."""
        self.note_event = note_event
        """Where successful logins go to be written with the next batch (failed ones are written at once)."""
        self.settings = settings
        self.signer = signer
        self.throttle = throttle
        self.users = users
        self.access_keys = access_keys
        self._binding_key = master_key.derive("refresh-token-binding")
        # Recently verified password logins (HMAC of user + password under a per-process key):
        # Basic credentials sent on every registry request would otherwise cost one argon2 each.
        self._verified: OrderedDict[bytes, tuple[float, str]] = OrderedDict()
        self._cache_key = secrets.token_bytes(32)

    # Passwords ----------------------------------------------------------------------------------
    async def authenticate_password(
        self, *, user_name: str, password: str, client: str, domain_name: str | None = None, audit: bool = False
    ) -> User:
        """The user, if the password is right. Throttled (``TooManyRequests``) per user name and
        client address, and per user name, by the failures counted before. ``audit``: a login that
        issues a token (recorded as an event); a request carrying its credentials is not."""
        async with self.login_attempt(user_name=user_name, client=client, credential=password) as attempt:
            cache_key = hmac.new(self._cache_key, f"{user_name}\0{password}".encode(), hashlib.sha256).digest()
            cached = self._verified.get(cache_key)
            if cached is not None and cached[0] > time.monotonic():
                user = await self.users.user(cached[1])
                if user is not None and user.enabled and (domain_name is None or user.domain_name == domain_name):
                    await self.throttle.succeeded(attempt)
                    if audit:
                        self.logged_in(principal_of(user, via="password"))
                    return user
            found = await self.db.read(lambda conn: q.user_by_name(conn, user_name))
            user, password_hash = found if found else (None, None)
            ok = await anyio.to_thread.run_sync(self.users.hashing.verify, password_hash, password)
            if (
                not ok
                or user is None
                or not user.enabled
                or (domain_name is not None and user.domain_name != domain_name)
            ):
                await self.record_failure(
                    attempt, user_name=user_name, client=client, reason="wrong user name or password"
                )
                raise Unauthenticated("the user name or password is wrong")
            await self.throttle.succeeded(attempt)
        self._verified[cache_key] = (time.monotonic() + VERIFIED_PASSWORD_SECONDS, user.id)
        while len(self._verified) > VERIFIED_PASSWORD_ENTRIES:
            self._verified.popitem(last=False)
        if audit:
            self.logged_in(principal_of(user, via="password"))
        return user

    @contextlib.asynccontextmanager
    async def login_attempt(self, *, user_name: str, client: str, credential: str | None) -> AsyncIterator[Attempt]:
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
        """Count a failed login (once for the same credentials repeated within the repeat window) and
        record it as an event at once: the audit log of the registry instance the request addressed."""
        await self.throttle.failed(attempt)
        log.warning("authentication failed for %r from %s: %s", user_name[:64], client, reason)
        context = replace(current_context(), client_address=client)
        failed = login_event(user_name=user_name, succeeded=False, context=context, reason=reason)
        await self.db.write(lambda conn: record_events(conn, failed))

    def logged_in(self, principal: Principal) -> None:
        """Record a successful login (written with the next batch of buffered events)."""
        if self.note_event is not None:
            context = replace(current_context(), actor=Actor.of(principal))
            self.note_event(
                login_event(
                    user_name=principal.user_name, succeeded=True, context=context, domain_id=principal.domain_id or ""
                )
            )

    # IAM tokens ---------------------------------------------------------------------------------
    async def issue_token(
        self, user: User, *, project_id: str | None, ttl_seconds: int | None = None
    ) -> tuple[str, IamToken]:
        """An IAM token for ``user``, scoped to a project of their domain (or the domain), valid
        ``ttl_seconds`` (default the IAM token lifetime; the console's sessions have their own)."""
        return self.signer.issue_iam(
            user_id=user.id,
            domain_id=user.domain_id,
            project_id=project_id,
            ttl=ttl_seconds if ttl_seconds is not None else self.settings.token_ttl_seconds,
        )

    async def validate_token(self, token: str) -> tuple[IamToken, User]:
        """The token's claims and user, if it is valid, unrevoked and its user still enabled."""
        try:
            claims = self.signer.verify_iam(token)
        except TokenError as exc:
            raise Unauthenticated(f"invalid token: {exc}") from exc
        revoked = await self.db.read(lambda conn: q.is_revoked(conn, claims.token_id))
        user = await self.users.user(claims.user_id)
        if revoked or user is None or not user.enabled:
            raise Unauthenticated("the token has been revoked or its user no longer exists")
        return claims, user

    async def revoke_token(self, token: str) -> None:
        """Revoke an IAM token on every node (they all read the revocation list)."""
        claims, _user = await self.validate_token(token)
        await self.db.write(lambda conn: q.revoke_token(conn, claims.token_id, claims.expires_at))

    # Registry logins ----------------------------------------------------------------------------
    async def login(
        self, *, username: str, password: str, client: str, audit: bool = False, instance_id: str = DEFAULT_INSTANCE
    ) -> Login:
        """Registry credentials: a user's password, a long-term login ``<region>@<AK>`` with the hex
        HMAC-SHA256 of the AK keyed with the SK, a temporary login ``<region>@<id>``, or a user name
        with an Enterprise Edition instance's credential (good on ``instance_id`` only); with the
        credential used (for a refresh token). ``audit``: a token request (recorded as a login)."""
        if self.instance_credentials is not None and looks_like_token(password):
            return await self._instance_login(username, password, client, audit=audit, instance_id=instance_id)
        region, at, key_id = username.partition("@")
        if at and region == self.settings.region and key_id:
            async with self.login_attempt(user_name=username, client=client, credential=password) as attempt:
                found_login = await self._key_login(key_id, password)
                if found_login is None:
                    await self.record_failure(attempt, user_name=username, client=client, reason="bad login key")
                    raise Unauthenticated("the login credentials are wrong or expired")
                await self.throttle.succeeded(attempt)
                if audit:
                    self.logged_in(found_login.principal)
                return found_login
        user = await self.authenticate_password(user_name=username, password=password, client=client, audit=audit)
        return Login(principal_of(user, via="password"), "password")

    async def _instance_login(self, username: str, token: str, client: str, *, audit: bool, instance_id: str) -> Login:
        """A login with an instance credential's ``auth_token``: throttled and recorded as password
        logins are; the credential's row is read on every use (revocation holds at once on every node)."""
        assert self.instance_credentials is not None
        # The instance is part of the repeat marker: one credential is good on its instance and wrong
        # on every other, and a failure at another instance must not refuse it at its own.
        marker = f"{instance_id}\0{token}"
        async with self.login_attempt(user_name=username, client=client, credential=marker) as attempt:
            credential = await self.instance_credentials.verify(
                instance_id=instance_id, user_name=username, token=token
            )
            user = None if credential is None else await self.users.user(credential.user_id)
            if credential is None or user is None or not user.enabled:
                await self.record_failure(
                    attempt,
                    user_name=username,
                    client=client,
                    reason="unknown, disabled or expired instance credential",
                )
                raise Unauthenticated("the credential is wrong, disabled, expired or for another instance")
            await self.throttle.succeeded(attempt)
        principal = principal_of(user, via=INSTANCE_CREDENTIAL_VIA[credential.kind])
        if audit:
            self.logged_in(principal)
        return Login(principal, f"{INSTANCE_CREDENTIAL_BINDING}{credential.id}", credential.expires_at // 1000)

    async def credential_holds(self, binding: str, *, instance_id: str, user_id: str) -> bool:
        """Whether the instance credential a bearer token was issued for still holds (its row, read now)."""
        kind, _, credential_id = binding.partition(":")
        if kind != "ee-credential" or self.instance_credentials is None:
            return False
        return await self.instance_credentials.active(credential_id, instance_id=instance_id, user_id=user_id)

    async def _key_login(self, key_id: str, password: str) -> Login | None:
        """A long-term (``<region>@<AK>`` + HMAC) or temporary (``<region>@<id>`` + its password)
        login, or None when the credentials do not check out."""
        if len(password) == 64 and all(c in string.hexdigits for c in password):
            found = await self.access_keys.access_key_secret(key_id)
            if found is not None:
                expected = long_term_password(key_id, found[1])
                if hmac.compare_digest(expected, password.lower()):
                    return Login(principal_of(found[0], via="long-term"), f"access-key:{key_id}")
            return None
        try:
            claims = self.signer.verify_login(password)
        except TokenError:
            return None
        if hmac.compare_digest(claims.login_id, key_id):
            user = await self.users.user(claims.user_id)
            if user is not None and user.enabled:
                return Login(principal_of(user, via="temporary"), f"temporary:{claims.login_id}", claims.expires_at)
        return None

    def issue_temporary_login(self, user: User) -> TemporaryLogin:
        """A temporary docker login for ``user``."""
        password, claims = self.signer.issue_login(user_id=user.id, ttl=self.settings.temporary_login_ttl_seconds)
        return TemporaryLogin(f"{self.settings.region}@{claims.login_id}", password, claims.expires_at)

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
            user_id=user_id,
            instance_id=instance_id,
            client_id=client_id,
            binding=binding,
            ttl=self.settings.refresh_token_ttl_seconds,
            not_after=login.not_after,
        )
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
            log.info(
                "refresh token %s of user %s issued to client %r used by client %r",
                claims.token_id,
                claims.user_id,
                claims.client_id,
                client_id,
            )
        user = await self.users.user(claims.user_id)
        if (
            user is None
            or not user.enabled
            or not await self._binding_holds(claims.binding, user.id, claims.instance_id)
        ):
            log.warning("refresh token of user %s refused: user or credential gone", claims.user_id)
            raise Unauthenticated("the refresh token has been revoked: its user or credentials changed")
        return Login(principal_of(user, via="refresh"), claims.binding, claims.not_after)

    async def _binding_holds(self, binding: str, user_id: str, instance_id: str) -> bool:
        kind, _, value = binding.partition(":")
        if kind == "password":
            current = await self.db.read(lambda conn: q.password_hash(conn, user_id))
            return current is not None and hmac.compare_digest(self._fingerprint(current), value)
        if kind == "access-key":
            found = await self.db.read(lambda conn: q.access_key(conn, value))
            return found is not None and found[0].enabled and found[0].user_id == user_id
        if kind == "ee-credential" and self.instance_credentials is not None:
            return await self.instance_credentials.active(value, instance_id=instance_id, user_id=user_id)
        return kind == "temporary"  # its expiry is the token's own limit

    def _fingerprint(self, password_hash: str) -> str:
        """Names the current password hash without revealing it (a new password changes it)."""
        return hmac.new(self._binding_key, password_hash.encode(), hashlib.sha256).hexdigest()[:32]
