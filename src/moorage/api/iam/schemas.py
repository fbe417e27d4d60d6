"""Request and response bodies of the IAM routes (pydantic at the edge; the responses are what
``huaweicloudsdkiam``'s v3 models read, compared with them by tests/api/test_response_models.py)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from moorage.api.response_model import ResponseModel


class _Named(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str | None = Field(default=None, max_length=64)
    name: str | None = Field(default=None, max_length=64)


class PasswordUser(BaseModel):
    """``auth.identity.password.user``."""

    model_config = ConfigDict(extra="ignore")
    name: str | None = Field(default=None, max_length=64)
    id: str | None = Field(default=None, max_length=64)
    password: str = Field(max_length=1024)
    domain: _Named | None = None


class PasswordMethod(BaseModel):
    """``auth.identity.password``."""

    user: PasswordUser


class Identity(BaseModel):
    """``auth.identity``."""

    model_config = ConfigDict(extra="ignore")
    methods: list[str]
    password: PasswordMethod | None = None


class Scope(BaseModel):
    """``auth.scope``: a project (by id or name) or a domain."""

    model_config = ConfigDict(extra="ignore")
    project: _Named | None = None
    domain: _Named | None = None


class Auth(BaseModel):
    """``auth``."""

    identity: Identity
    scope: Scope | None = None


class TokenRequest(BaseModel):
    """``POST /v3/auth/tokens``."""

    auth: Auth


# Responses: field for field as huaweicloudsdkiam's v3 models define them -------------------------


class LinksSelf(ResponseModel):
    """``LinksSelf``: a resource's own address."""

    self_link: str = Field(alias="self")


class Links(LinksSelf):
    """``Links``: a listing's address and its neighbours' (null: moorage lists on one page)."""

    next: str | None
    previous: str | None


class TokenDomain(ResponseModel):
    """``TokenDomainResult`` / ``TokenUserDomainResult`` / ``TokenProjectDomainResult``."""

    id: str
    name: str


class TokenUser(ResponseModel):
    """``TokenUserResult``."""

    id: str
    name: str
    domain: TokenDomain
    password_expires_at: str


class TokenRole(ResponseModel):
    """``TokenRole``."""

    id: str
    name: str


class TokenCatalogEndpoint(ResponseModel):
    """``TokenCatalogEndpoint``."""

    url: str
    region: str
    region_id: str
    interface: str
    id: str


class TokenCatalog(ResponseModel):
    """``TokenCatalog`` (moorage's catalog is empty: the SDKs are given their endpoints)."""

    type: str
    id: str
    name: str
    endpoints: list[TokenCatalogEndpoint]


class TokenProject(ResponseModel):
    """``TokenProjectResult``."""

    id: str
    name: str
    domain: TokenDomain


class Token(ResponseModel):
    """``TokenResult``: scoped to a ``project`` or to the ``domain``, the other is absent."""

    methods: list[str]
    expires_at: str
    issued_at: str
    user: TokenUser
    roles: list[TokenRole]
    catalog: list[TokenCatalog]
    project: TokenProject | None = None
    domain: TokenDomain | None = None


class TokenResponse(ResponseModel):
    """``KeystoneCreateUserTokenByPasswordResponse`` / ``KeystoneValidateTokenResponse`` (the token
    itself travels in ``X-Subject-Token``)."""

    token: Token


class ProjectResult(ResponseModel):
    """``ProjectResult`` / ``AuthProjectResult``."""

    id: str
    name: str
    domain_id: str
    enabled: bool
    is_domain: bool
    parent_id: str
    description: str
    links: LinksSelf


class ProjectList(ResponseModel):
    """``KeystoneListProjectsResponse``."""

    projects: list[ProjectResult]
    links: Links


class AuthProjectList(ResponseModel):
    """``KeystoneListAuthProjectsResponse``."""

    projects: list[ProjectResult]
    links: LinksSelf


class UserResult(ResponseModel):
    """``KeystoneCreateUserResult`` / ``KeystoneListUsersResult`` / ``KeystoneShowUserResult``
    (``password_expires_at`` null: passwords do not expire)."""

    id: str
    name: str
    domain_id: str
    enabled: bool
    description: str
    pwd_status: bool
    password_expires_at: str | None
    links: LinksSelf


class UserResponse(ResponseModel):
    """``KeystoneCreateUserResponse`` / ``KeystoneShowUserResponse``."""

    user: UserResult


class UserList(ResponseModel):
    """``KeystoneListUsersResponse``."""

    users: list[UserResult]
    links: Links


class Credential(ResponseModel):
    """``Credentials`` / ``ShowCredential`` / ``UpdateCredentialResult``: an access key, never its secret."""

    user_id: str
    access: str
    status: str
    create_time: str
    description: str


class NewCredential(Credential):
    """``CreateCredentialResult``: a new access key with its secret, shown this once."""

    secret: str


class CredentialResponse(ResponseModel):
    """``ShowPermanentAccessKeyResponse`` / ``UpdatePermanentAccessKeyResponse``."""

    credential: Credential


class NewCredentialResponse(ResponseModel):
    """``CreatePermanentAccessKeyResponse``."""

    credential: NewCredential


class CredentialList(ResponseModel):
    """``ListPermanentAccessKeysResponse``."""

    credentials: list[Credential]
