"""Signed, stateless tokens (JWT, HS256 with keys derived from the master key), so any node can
check them: IAM tokens (``X-Auth-Token``), registry bearer tokens and refresh tokens (the Docker
token flow), and the passwords of temporary ``docker login`` commands. Each kind has its own key and
audience, so one kind can never be replayed as another."""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import jwt

from moorage.auth.keys import MasterKey

_ALGORITHM = "HS256"
IAM_AUDIENCE = "moorage-iam"
LOGIN_AUDIENCE = "moorage-login"
REFRESH_AUDIENCE_SUFFIX = "#refresh"
"""A refresh token's audience is the registry service followed by this."""


class TokenError(Exception):
    """A token that is malformed, forged, expired or meant for something else."""


@dataclass(frozen=True, slots=True)
class IamToken:
    """The claims of an IAM token."""

    token_id: str
    user_id: str
    domain_id: str
    project_id: str | None
    issued_at: int
    expires_at: int
    methods: tuple[str, ...] = ("password",)


@dataclass(frozen=True, slots=True)
class RegistryGrant:
    """Actions a registry token grants on one resource (``repository``/``registry``, name)."""

    type: str
    name: str
    actions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RegistryToken:
    """The claims of a registry bearer token."""

    subject: str | None
    """User id; None for an anonymous token."""
    domain_id: str | None
    grants: tuple[RegistryGrant, ...]
    expires_at: int
    via: str = ""
    """How the user authenticated (``password``, ``long-term``, ``temporary``, ``token``)."""
    instance_id: str = "default"
    """The registry instance the token was issued by (and is good for only)."""
    credential: str = ""
    """The instance credential it was issued for (``ee-credential:<id>``; checked on every use), or ""."""
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True, slots=True)
class RefreshToken:
    """The claims of a registry refresh token (``offline_token`` / ``access_type=offline``): it lets
    a client get new bearer tokens without its password, for as long as ``binding`` still holds."""

    token_id: str
    user_id: str
    instance_id: str
    """The registry instance it was issued by (and is good for only)."""
    client_id: str
    """The OAuth ``client_id`` it was issued to (may be empty)."""
    binding: str
    """The credential it came from (``password:<fingerprint>``, ``access-key:<AK>``,
    ``temporary:<login id>``): checked on every use, so changing or removing that credential
    revokes the token."""
    issued_at: int
    expires_at: int
    not_after: int = 0
    """A limit no refresh token issued from this one may pass (a temporary login's expiry); 0: none."""


@dataclass(frozen=True, slots=True)
class LoginSecret:
    """The claims of a temporary ``docker login`` password."""

    login_id: str
    user_id: str
    expires_at: int


class TokenSigner:
    """Issues and checks every kind of token."""

    def __init__(self, master_key: MasterKey, *, registry_service: str) -> None:
        self._iam_key = master_key.derive("iam-token")
        self._registry_key = master_key.derive("registry-token")
        self._login_key = master_key.derive("temporary-login")
        self._refresh_key = master_key.derive("registry-refresh-token")
        self.registry_service = registry_service
        self._registry_cache: OrderedDict[str, RegistryToken] = OrderedDict()

    # IAM tokens -------------------------------------------------------------------------------
    def issue_iam(self, *, user_id: str, domain_id: str, project_id: str | None, ttl: int) -> tuple[str, IamToken]:
        """A new IAM token valid ``ttl`` seconds."""
        now = int(time.time())
        claims = IamToken(secrets.token_hex(16), user_id, domain_id, project_id, now, now + ttl)
        payload = {
            "jti": claims.token_id,
            "sub": user_id,
            "dom": domain_id,
            "prj": project_id,
            "iat": now,
            "exp": claims.expires_at,
            "aud": IAM_AUDIENCE,
        }
        return jwt.encode(payload, self._iam_key, algorithm=_ALGORITHM), claims

    def verify_iam(self, token: str) -> IamToken:
        """The claims of a valid IAM token (revocation is checked by the caller)."""
        p = self._decode(token, self._iam_key, IAM_AUDIENCE)
        try:
            return IamToken(str(p["jti"]), str(p["sub"]), str(p["dom"]), p.get("prj"), int(p["iat"]), int(p["exp"]))
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise TokenError("incomplete token") from exc

    # Registry bearer tokens -----------------------------------------------------------------------
    def issue_registry(
        self,
        *,
        subject: str | None,
        domain_id: str | None,
        grants: list[RegistryGrant],
        ttl: int,
        via: str,
        instance_id: str = "default",
        credential: str = "",
    ) -> tuple[str, RegistryToken]:
        """A bearer token for the registry API of ``instance_id`` granting ``grants``."""
        now = int(time.time())
        payload = {
            "iss": "moorage",
            "aud": self.registry_service,
            "sub": subject or "",
            "dom": domain_id or "",
            "iat": now,
            "nbf": now - 5,
            "exp": now + ttl,
            "jti": secrets.token_hex(8),
            "via": via,
            "ins": instance_id,
            "access": [{"type": g.type, "name": g.name, "actions": list(g.actions)} for g in grants],
        }
        if credential:
            payload["crd"] = credential
        token = jwt.encode(payload, self._registry_key, algorithm=_ALGORITHM)
        return token, RegistryToken(subject, domain_id, tuple(grants), now + ttl, via, instance_id, credential)

    def verify_registry(self, token: str) -> RegistryToken:
        """The claims of a valid registry token. Checked tokens are remembered (a client sends the
        same token with every request of a pull): only the expiry is checked again."""
        cached = self._registry_cache.get(token)
        if cached is not None:
            if cached.expires_at + 5 < time.time():
                raise TokenError("token expired")
            return cached
        claims = self._verify_registry(token)
        self._registry_cache[token] = claims
        while len(self._registry_cache) > 8192:
            self._registry_cache.popitem(last=False)
        return claims

    def _verify_registry(self, token: str) -> RegistryToken:
        p = self._decode(token, self._registry_key, self.registry_service)

        try:
            grants = tuple(
                RegistryGrant(str(a["type"]), str(a["name"]), tuple(str(x) for x in a["actions"]))
                for a in p.get("access", [])
            )
            return RegistryToken(
                p.get("sub") or None,
                p.get("dom") or None,
                grants,
                int(p["exp"]),
                str(p.get("via", "")),
                str(p.get("ins") or "default"),
                str(p.get("crd") or ""),
            )
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise TokenError("incomplete token") from exc

    # Registry refresh tokens ----------------------------------------------------------------------
    def issue_refresh(
        self, *, user_id: str, instance_id: str, client_id: str, binding: str, ttl: int, not_after: int = 0
    ) -> tuple[str, RefreshToken]:
        """A refresh token valid ``ttl`` seconds, never past ``not_after`` (when set)."""
        now = int(time.time())
        expires_at = min(now + ttl, not_after) if not_after else now + ttl
        claims = RefreshToken(
            secrets.token_hex(16), user_id, instance_id, client_id, binding, now, expires_at, not_after
        )
        payload = {
            "iss": "moorage",
            "aud": self.registry_service + REFRESH_AUDIENCE_SUFFIX,
            "jti": claims.token_id,
            "sub": user_id,
            "ins": instance_id,
            "cid": client_id,
            "bnd": binding,
            "iat": now,
            "exp": expires_at,
            "lim": not_after,
        }
        return jwt.encode(payload, self._refresh_key, algorithm=_ALGORITHM), claims

    def verify_refresh(self, token: str) -> RefreshToken:
        """The claims of a valid refresh token (the caller checks its user and binding still hold)."""
        p = self._decode(token, self._refresh_key, self.registry_service + REFRESH_AUDIENCE_SUFFIX)
        try:
            claims = RefreshToken(
                str(p["jti"]),
                str(p["sub"]),
                str(p["ins"]),
                str(p.get("cid") or ""),
                str(p["bnd"]),
                int(p["iat"]),
                int(p["exp"]),
                int(p.get("lim") or 0),
            )
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise TokenError("incomplete token") from exc
        if not claims.user_id or not claims.binding:
            raise TokenError("incomplete token")
        return claims

    # Temporary docker-login passwords ------------------------------------------------------------
    def issue_login(self, *, user_id: str, ttl: int) -> tuple[str, LoginSecret]:
        """A temporary login: (password, claims); the username is ``<region>@<login_id>``."""
        now = int(time.time())
        claims = LoginSecret(secrets.token_hex(10).upper(), user_id, now + ttl)
        payload = {"lid": claims.login_id, "sub": user_id, "iat": now, "exp": claims.expires_at, "aud": LOGIN_AUDIENCE}
        return jwt.encode(payload, self._login_key, algorithm=_ALGORITHM), claims

    def verify_login(self, password: str) -> LoginSecret:
        """The claims of a valid temporary login password."""
        p = self._decode(password, self._login_key, LOGIN_AUDIENCE)
        try:
            return LoginSecret(str(p["lid"]), str(p["sub"]), int(p["exp"]))
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise TokenError("incomplete token") from exc

    @staticmethod
    def _decode(token: str, key: bytes, audience: str) -> dict[str, Any]:
        if not token or len(token) > 8192:
            raise TokenError("missing or oversized token")
        try:
            payload: dict[str, Any] = jwt.decode(
                token, key, algorithms=[_ALGORITHM], audience=audience, options={"require": ["exp"]}, leeway=5
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenError("token expired") from exc
        except jwt.PyJWTError as exc:
            raise TokenError("invalid token") from exc
        return payload


CICD_AUDIENCE = "moorage-cicd-upload"
CICD_TOKEN_PREFIX = "mcicd."  # noqa: S105 (a prefix, not a secret)
"""Upload credentials start with this, so a log line or a misplaced header shows what they are."""


@dataclass(frozen=True, slots=True)
class CicdUploadClaims:
    """What a pipeline's upload credential allows: results for one CI/CD configuration, until it expires."""

    domain_id: str
    project_id: str
    cicd_id: str
    expires_at: int


class CicdUploadSigner:
    """Issues and checks the scan-upload credentials of ``create_cicd_configuration_command``: their
    own key and audience, so they are never an IAM, registry, refresh or login token."""

    def __init__(self, master_key: MasterKey) -> None:
        self._key = master_key.derive("cicd-upload-credential")

    def issue(self, *, domain_id: str, project_id: str, cicd_id: str, ttl: int) -> tuple[str, CicdUploadClaims]:
        """A credential valid ``ttl`` seconds."""
        now = int(time.time())
        claims = CicdUploadClaims(domain_id, project_id, cicd_id, now + ttl)
        payload = {
            "dom": domain_id,
            "prj": project_id,
            "cid": cicd_id,
            "scope": "cicd-upload",
            "iat": now,
            "exp": claims.expires_at,
            "jti": secrets.token_hex(8),
            "aud": CICD_AUDIENCE,
        }
        return CICD_TOKEN_PREFIX + jwt.encode(payload, self._key, algorithm=_ALGORITHM), claims

    def verify(self, token: str) -> CicdUploadClaims:
        """The claims of a valid credential (``TokenError`` otherwise)."""
        if not token.startswith(CICD_TOKEN_PREFIX):
            raise TokenError("not a CI/CD upload credential")
        p = TokenSigner._decode(token[len(CICD_TOKEN_PREFIX) :], self._key, CICD_AUDIENCE)
        try:
            if p["scope"] != "cicd-upload":
                raise TokenError("not a CI/CD upload credential")
            return CicdUploadClaims(str(p["dom"]), str(p["prj"]), str(p["cid"]), int(p["exp"]))
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise TokenError("incomplete token") from exc
