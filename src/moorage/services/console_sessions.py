"""Web console sessions: signing in with an IAM user's password, resuming a session, signing out.

A console session is an IAM token (the same signed, revocable token ``POST /v3/auth/tokens``
issues, scoped to the user's project) with the console's own lifetime. So a session is checked
exactly as an API token is (signature, expiry, the revocation list every node reads, the user
still enabled), signing out revokes it on every node, and no session table is needed. Passwords
go through ``LoginService.authenticate_password``: the console's sign-in is throttled by the
API's login throttle and recorded as a login event.

Each session has a CSRF token: an HMAC of the session's token id under a key derived from the
master key, so any node computes it and it dies with the session.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from moorage.auth.keys import MasterKey
from moorage.domain.errors import Unauthenticated
from moorage.domain.identity import Principal
from moorage.services.logins import LoginService
from moorage.services.users import UserService, principal_of

CSRF_PURPOSE = "console-csrf"


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """A signed-in browser."""

    token: str
    """The session's IAM token (the cookie's value)."""
    principal: Principal
    csrf_token: str
    """What every state-changing form of this session must carry."""
    expires_at: int
    """Unix seconds."""


class ConsoleSessions:
    """Sign in, resume and sign out (see the module docstring)."""

    def __init__(
        self, *, logins: LoginService, users: UserService, master_key: MasterKey, session_seconds: int
    ) -> None:
        self.logins = logins
        self.users = users
        self.session_seconds = session_seconds
        self._csrf_key = master_key.derive(CSRF_PURPOSE)

    def _csrf(self, token_id: str) -> str:
        return hmac.new(self._csrf_key, token_id.encode(), hashlib.sha256).hexdigest()

    async def sign_in(self, *, user_name: str, password: str, client: str) -> ConsoleSession:
        """A new session for the user whose password this is (``Unauthenticated``, or
        ``TooManyRequests`` from the login throttle)."""
        user = await self.logins.authenticate_password(
            user_name=user_name, password=password, client=client, audit=True
        )
        projects = await self.users.projects(domain_id=user.domain_id)
        project_id = projects[0].id if projects else None
        token, claims = await self.logins.issue_token(user, project_id=project_id, ttl_seconds=self.session_seconds)
        return ConsoleSession(
            token,
            principal_of(user, via="console", project_id=project_id),
            self._csrf(claims.token_id),
            claims.expires_at,
        )

    async def resume(self, token: str) -> ConsoleSession:
        """The session a cookie names, if it is still valid (else ``Unauthenticated``)."""
        if not token:
            raise Unauthenticated("not signed in")
        claims, user = await self.logins.validate_token(token)
        return ConsoleSession(
            token,
            principal_of(user, via="console", project_id=claims.project_id),
            self._csrf(claims.token_id),
            claims.expires_at,
        )

    def csrf_matches(self, session: ConsoleSession, presented: str) -> bool:
        """Whether a form's CSRF token is this session's (compared in constant time)."""
        return hmac.compare_digest(session.csrf_token.encode(), presented.encode())

    async def sign_out(self, token: str) -> None:
        """Revoke the session on every node (an already invalid one is left alone)."""
        try:
            await self.logins.revoke_token(token)
        except Unauthenticated:
            return
