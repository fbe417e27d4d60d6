"""Bodies and answers of the instance credential and endpoint policy operations
(CreateInstanceLtCredential, ListInstanceLtCredentials, UpdateInstanceLtCredential,
CreateInstanceTempCredential; CreateInstanceEndpointPolicy, ShowInstanceEndpointPolicy,
UpdateInstanceEndpointPolicy), field for field as ``huaweicloudsdkswr`` names them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from moorage.api.enterprise.common import timestamp
from moorage.api.response_model import ResponseModel
from moorage.domain.enterprise_access import MAX_ALLOWLIST_ENTRIES, EndpointPolicy, InstanceCredential


class CreateCredentialBody(BaseModel):
    """``CreateLongTermCredentialRequestBody``."""

    model_config = ConfigDict(extra="ignore")
    name: str = Field(max_length=64)


class UpdateCredentialBody(BaseModel):
    """``UpdateLongTermCredentialRequestBody``."""

    model_config = ConfigDict(extra="ignore")
    enable: bool


class IssuedCredentialView(ResponseModel):
    """``CreateInstanceLtCredentialResponse`` / ``CreateInstanceTempCredentialResponse``: the secret
    (``auth_token``) is in this answer only."""

    auth_token: str
    created_at: str
    expire_date: str
    token_id: str
    user_id: str


class AuthTokenView(ResponseModel):
    """``AuthToken``: a long-term credential without its secret. ``user_profile`` is the user name to
    log in with (``docker login -u <user_profile> -p <auth_token> <instance host>``)."""

    created_at: str
    enable: bool
    expire_date: str
    instance_id: str
    name: str
    token_id: str
    user_id: str
    user_profile: str

    @classmethod
    def of(cls, credential: InstanceCredential) -> AuthTokenView:
        """The view of a stored credential."""
        return cls(
            created_at=timestamp(credential.created_at),
            enable=credential.enabled,
            expire_date=timestamp(credential.expires_at) if credential.expires_at else "",
            instance_id=credential.instance_id,
            name=credential.name,
            token_id=credential.id,
            user_id=credential.user_id,
            user_profile=credential.user_name,
        )


class AuthTokenList(ResponseModel):
    """``ListInstanceLtCredentialsResponse``."""

    total: int
    auth_tokens: list[AuthTokenView]


class EndpointSwitchBody(BaseModel):
    """``CreateEndpointPolicyRequestBody``."""

    model_config = ConfigDict(extra="ignore")
    enable: bool


class IpInfoBody(BaseModel):
    """``IpInfo`` in a request."""

    model_config = ConfigDict(extra="ignore")
    ip: str = Field(max_length=64)
    description: str = Field(default="", max_length=255)


class WhiteListBody(BaseModel):
    """``UpdateWhiteListRequestBody``."""

    model_config = ConfigDict(extra="ignore")
    ip_list: list[IpInfoBody] = Field(max_length=MAX_ALLOWLIST_ENTRIES)


class IpInfoView(ResponseModel):
    """``IpInfo``."""

    ip: str
    description: str


class EndpointPolicyView(ResponseModel):
    """``ShowInstanceEndpointPolicyResponse``: ``Enable`` or ``Disable`` (changes are immediate, so
    the transitional states ``Enabling``/``Disabling``/``*Failed`` never show)."""

    status: str
    ip_list: list[IpInfoView]

    @classmethod
    def of(cls, policy: EndpointPolicy) -> EndpointPolicyView:
        """The view of a policy."""
        return cls(
            status="Enable" if policy.enabled else "Disable",
            ip_list=[IpInfoView(ip=entry.ip, description=entry.description) for entry in policy.allowlist],
        )
