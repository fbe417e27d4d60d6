"""Request and response bodies of the SWR management API, field for field as ``huaweicloudsdkswr``'s
models define them (the SDK's wire names are the aliases: ``Tag``, ``schema``, ``nextMarker``,
``regionID``). They are the OpenAPI description at ``/openapi.json`` too."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from moorage.api.response_model import ResponseModel


class SwrModel(BaseModel):
    """Base: fields may be given by name or by wire alias; unknown request fields are ignored."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")


# Repositories ------------------------------------------------------------------------------------


class CreateRepositoryBody(SwrModel):
    """``POST .../namespaces/{namespace}/repos``."""

    repository: str = Field(min_length=1, max_length=128)
    is_public: bool = False
    category: str = Field(default="other", max_length=64)
    description: str = Field(default="", max_length=4096)


class UpdateRepositoryBody(SwrModel):
    """``PATCH .../repos/{repository}``: the attributes to change."""

    is_public: bool | None = None
    category: str | None = Field(default=None, max_length=64)
    description: str | None = Field(default=None, max_length=4096)


class RepositoryView(SwrModel):
    """``ShowRepositoryResponse``."""

    id: int
    ns_id: int
    name: str
    category: str
    description: str
    creator_id: str
    creator_name: str
    size: int
    is_public: bool
    num_images: int
    num_download: int
    url: str
    path: str
    internal_path: str
    created: str
    updated: str
    domain_id: str
    priority: int


class RepositoryListItem(SwrModel):
    """``ShowReposResp``: an item of the v2 repository listings (shared ones too)."""

    name: str
    category: str
    description: str
    size: int
    is_public: bool
    num_images: int
    num_download: int
    created_at: str
    updated_at: str
    logo: str
    url: str
    path: str
    internal_path: str
    domain_name: str
    namespace: str
    tags: list[str]
    status: bool
    total_range: int


class RepositoryV3Item(SwrModel):
    """``ShowReposRespV3``."""

    id: int
    name: str
    category: str
    description: str
    size: int
    is_public: bool
    num_images: int
    num_download: int
    created_at: str
    updated_at: str
    domain_name: str
    namespace_name: str
    status: bool


class RepositoryV3List(SwrModel):
    """``ListRepoDetailsResponse`` / ``ListSharedRepoDetailsResponse``."""

    repos: list[RepositoryV3Item]
    next_marker: int | None = Field(default=None, alias="nextMarker")


# Tags --------------------------------------------------------------------------------------------


class TagListItem(SwrModel):
    """``ShowReposTagResp``: an item of the v2 tag listing (note the capital ``Tag``)."""

    id: int
    repo_id: int
    tag: str = Field(alias="Tag")
    image_id: str
    manifest: str
    digest: str
    schema_version: int = Field(alias="schema")
    path: str
    internal_path: str
    size: int
    is_trusted: bool
    created: str
    updated: str
    deleted: str | None
    domain_id: str
    scanned: bool
    tag_type: int


class TagView(SwrModel):
    """``ShowRepoTagResponse`` (lowercase ``tag``)."""

    id: int
    repo_id: int
    tag: str
    image_id: str
    manifest: str
    digest: str
    schema_version: int = Field(alias="schema")
    path: str
    internal_path: str
    size: int
    is_trusted: bool
    created: str
    updated: str
    domain_id: str
    tag_type: int


class TagV3Item(TagView):
    """``ShowReposTagRespV3``: ``manifest`` only when ``with_manifest=true``."""

    manifest: str | None = None  # type: ignore[assignment]


class TagV3List(SwrModel):
    """``ListRepositoryTagResponse``."""

    tags: list[TagV3Item]
    next_marker: str | None = Field(default=None, alias="nextMarker")
    has_more: bool


class CreateTagBody(SwrModel):
    """``POST .../tags``: tag the image ``source_tag`` names as ``destination_tag``."""

    source_tag: str = Field(min_length=1, max_length=128)
    destination_tag: str = Field(min_length=1, max_length=128)
    override: bool = False


class AccessoryItem(SwrModel):
    """``AccessoryListAccessories``."""

    id: int
    domain_id: str
    namespace_name: str
    repo_name: str
    sig_tag: str
    sig_digest: str
    target_digest: str
    size: int
    type: str
    created_at: str
    updated_at: str


class AccessoryList(SwrModel):
    """``ListRepoAccessoriesResponse``."""

    total: int
    accessories: list[AccessoryItem]


class ReferenceList(SwrModel):
    """``ListReferencesResponse``."""

    next_marker: str | None = None
    has_more: bool
    tags: list[str]


# Organizations and authorizations ---------------------------------------------------------------


class NamespaceView(ResponseModel):
    """``ShowNamespace`` (and ``ShowNamespaceResponse``): an organization and the caller's level on it."""

    id: int
    name: str
    creator_name: str
    auth: int


class NamespaceList(ResponseModel):
    """``ListNamespacesResponse``."""

    namespaces: list[NamespaceView]


class UserAuthView(ResponseModel):
    """``UserAuth``: a user's level (1 read, 3 write, 7 manage)."""

    user_id: str
    user_name: str
    auth: int


class NamespaceAuthView(ResponseModel):
    """``ShowNamespaceAuthResponse``: the caller's level and everyone else's."""

    id: int
    name: str
    creator_name: str
    self_auth: UserAuthView
    others_auths: list[UserAuthView]


class RepositoryAuthView(ResponseModel):
    """``ShowUserRepositoryAuthResponse``."""

    id: int
    name: str
    self_auth: UserAuthView
    others_auths: list[UserAuthView]


# Login commands ----------------------------------------------------------------------------------


class AuthInfo(ResponseModel):
    """``AuthInfo``: base64 of ``user:password``, as in a docker ``config.json``."""

    auth: str


class LoginView(ResponseModel):
    """``CreateSecretResponse`` / ``CreateAuthorizationTokenResponse``: registry host -> login (the
    docker login command and its expiry travel in ``X-Swr-Dockerlogin`` and ``X-Swr-Expireat``)."""

    auths: dict[str, AuthInfo]


# Sharing -----------------------------------------------------------------------------------------


class CreateShareBody(SwrModel):
    """``POST .../access-domains``."""

    access_domain: str = Field(min_length=1, max_length=64)
    permit: str = Field(max_length=16)
    deadline: str = Field(max_length=64)
    description: str = Field(default="", max_length=4096)


class UpdateShareBody(SwrModel):
    """``PATCH .../access-domains/{access_domain}``: what to change."""

    permit: str | None = Field(default=None, max_length=16)
    deadline: str | None = Field(default=None, max_length=64)
    description: str | None = Field(default=None, max_length=4096)


class ShareView(SwrModel):
    """``ShowRepoDomainsResponse``."""

    namespace: str
    repository: str
    access_domain: str
    permit: str
    deadline: str
    description: str
    creator_id: str
    creator_name: str
    created: str
    updated: str
    status: bool


class ShareExistence(ShareView):
    """``ShowAccessDomainResponse``: ``exist`` false (and empty fields) when not shared."""

    exist: bool


# Account -----------------------------------------------------------------------------------------


class OverviewView(SwrModel):
    """``ShowDomainOverviewResponse`` (sic: ``namspace_num``); sizes in bytes."""

    domain_id: str
    domain_name: str
    namspace_num: int
    repo_num: int
    image_num: int
    store_space: float
    downflow_size: float


class QuotaView(SwrModel):
    """``ShowQuota``."""

    quota_key: str
    quota_limit: int
    used: int
    unit: str


class QuotaList(SwrModel):
    """``ListQuotasResponse``."""

    quotas: list[QuotaView]


class FeatureGatesView(SwrModel):
    """``ShowShareFeatureGatesResponse``."""

    enable_experience: bool
    enable_hss_service: bool
    enable_image_scan: bool
    enable_sm3: bool
    enable_image_sync: bool
    enable_cci_service: bool
    enable_image_label: bool
    enable_pipeline: bool
    enable_authorization_token: bool
    enable_resource: bool
    enable_list_v3: bool
    enable_image_quota: bool


class RegionView(SwrModel):
    """``RegionInfo``."""

    region_id: str = Field(alias="regionID")


class ReportPointView(SwrModel):
    """``ReportData``."""

    date: str
    value: float


class AgencyView(SwrModel):
    """``CheckAgencyResponse``."""

    domain_id: str
    is_agency: bool


class VersionLink(SwrModel):
    """``Link``."""

    href: str
    rel: str


class VersionView(SwrModel):
    """``VersionDetail``."""

    id: str
    links: VersionLink
    version: str
    status: str
    updated: str
    min_version: str


class VersionList(SwrModel):
    """``ListApiVersionsResponse``."""

    versions: list[VersionView]


class VersionShow(SwrModel):
    """``ShowApiVersionResponse``."""

    version: VersionView
