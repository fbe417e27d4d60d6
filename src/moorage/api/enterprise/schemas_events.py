"""Bodies and answers of the audit log (ListAuditLogs) and the webhook operations
(Create/Show/Update/DeleteInstanceWebhook, ListInstanceWebhooks, ListInstanceWebhookJobs): ``AuditLog``,
``Target``, ``ScopeRule``, ``CreateWebhookPolicyRequestBody``, ``WebhookPolicyDetail`` and ``Job``,
field for field, plus moorage's few additions (EXTENSIONS in tests/api/test_response_models.py)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from moorage.api.enterprise.common import timestamp
from moorage.api.enterprise.selector_body import SelectorBody
from moorage.api.response_model import ResponseModel
from moorage.domain.enterprise import ScopeRule
from moorage.domain.events import Event
from moorage.domain.webhooks import Delivery, WebhookPolicy, WebhookTarget
from moorage.services.events.webhooks import PolicyFields, rule_of


class AuditLogView(ResponseModel):
    """``AuditLog``, with the client address and the result (moorage's)."""

    id: int
    operation: str
    resource_type: str
    resource: str
    username: str
    op_time: str
    client_address: str
    """Where the request came from (the TCP peer, or the trusted proxies' header)."""
    result: str
    """``success`` or ``failure`` (a failed login)."""

    @classmethod
    def of(cls, event: Event) -> AuditLogView:
        """The wire form of an event."""
        return cls(
            id=event.id,
            operation=str(event.operation),
            resource_type=str(event.resource_type),
            resource=event.resource,
            username=event.actor.label,
            op_time=timestamp(event.occurred_at),
            client_address=event.client_address,
            result=str(event.result),
        )


class AuditLogList(ResponseModel):
    """``ListAuditLogsResponse``."""

    audit_logs: list[AuditLogView]
    total: int


class TargetModel(BaseModel):
    """``Target``: where deliveries go. In answers ``auth_header`` is ``******`` when one is stored."""

    model_config = ConfigDict(extra="ignore")
    type: str = Field(default="http", max_length=32)
    address: str = Field(max_length=2048)
    auth_header: str | None = Field(default=None, max_length=4096)
    skip_cert_verify: bool | None = None
    address_type: str | None = Field(default=None, max_length=32)

    def target(self) -> WebhookTarget:
        """The domain form."""
        return WebhookTarget(
            address=self.address,
            auth_header=self.auth_header or "",
            skip_cert_verify=bool(self.skip_cert_verify),
            address_type=self.address_type or "internet",
            type=self.type,
        )

    @classmethod
    def of(cls, target: WebhookTarget) -> TargetModel:
        """The wire form (the caller masked the auth header)."""
        return cls(
            type=target.type,
            address=target.address,
            auth_header=target.auth_header,
            skip_cert_verify=target.skip_cert_verify,
            address_type=target.address_type,
        )


class ScopeRuleModel(BaseModel):
    """``ScopeRule``: one tag selector and ``scope_selectors["repository"]``."""

    model_config = ConfigDict(extra="ignore")
    tag_selectors: list[SelectorBody] = Field(max_length=20)
    scope_selectors: dict[str, list[SelectorBody]] = Field(max_length=8)
    repo_scope_mode: str | None = Field(default=None, max_length=32)

    def rule(self) -> ScopeRule:
        """The domain form."""
        return rule_of(
            [s.selector() for s in self.tag_selectors],
            {kind: [s.selector() for s in selectors] for kind, selectors in self.scope_selectors.items()},
            self.repo_scope_mode,
        )

    @classmethod
    def of(cls, rule: ScopeRule) -> ScopeRuleModel:
        """The wire form."""
        return cls(
            tag_selectors=[SelectorBody.of(s) for s in rule.tag_selectors],
            scope_selectors={"repository": [SelectorBody.of(s) for s in rule.repository_selectors]},
            repo_scope_mode=rule.repo_scope_mode,
        )


class WebhookPolicyBody(BaseModel):
    """``CreateWebhookPolicyRequestBody`` / ``UpdateWebhookPolicyRequestBody``, plus moorage's optional
    ``secret``: the HMAC key of the signature header (16-256 characters; generated when absent)."""

    model_config = ConfigDict(extra="ignore")
    name: str = Field(max_length=256)
    description: str = Field(default="", max_length=1024)
    targets: list[TargetModel] = Field(max_length=5)
    scope_rules: list[ScopeRuleModel] = Field(default_factory=list, max_length=10)
    event_types: list[str] = Field(max_length=16)
    enabled: bool | None = None
    secret: str | None = Field(default=None, max_length=256)

    def fields(self) -> PolicyFields:
        """What the request sets."""
        return PolicyFields(
            name=self.name,
            description=self.description,
            targets=[t.target() for t in self.targets],
            event_types=list(self.event_types),
            scope_rules=[r.rule() for r in self.scope_rules],
            enabled=self.enabled,
            secret=self.secret,
        )


class CreatedWebhook(ResponseModel):
    """``CreateInstanceWebhookResponse``, with the signing secret shown this once (moorage's)."""

    id: int
    signing_secret: str
    """The HMAC-SHA256 key of ``X-Moorage-Signature-256`` (the SDK's object ignores it; read the raw body)."""


class WebhookPolicyView(ResponseModel):
    """``WebhookPolicyDetail`` / ``ShowInstanceWebhookResponse``."""

    id: int
    name: str
    description: str
    targets: list[TargetModel]
    event_types: list[str]
    enabled: bool
    namespace_id: int
    namespace_name: str
    creator: str
    created_at: str
    updated_at: str
    scope_rules: list[ScopeRuleModel]

    @classmethod
    def of(cls, policy: WebhookPolicy) -> WebhookPolicyView:
        """The wire form of a (masked) policy."""
        return cls(
            id=policy.id,
            name=policy.name,
            description=policy.description,
            targets=[TargetModel.of(t) for t in policy.targets],
            event_types=list(policy.event_types),
            enabled=policy.enabled,
            namespace_id=policy.namespace_id,
            namespace_name=policy.namespace_name,
            creator=policy.creator,
            created_at=timestamp(policy.created_at),
            updated_at=timestamp(policy.updated_at),
            scope_rules=[ScopeRuleModel.of(r) for r in policy.scope_rules],
        )


class WebhookPolicyList(ResponseModel):
    """``ListInstanceWebhooksResponse``."""

    policies: list[WebhookPolicyView]
    total: int


class WebhookJob(ResponseModel):
    """``Job``: one delivery; ``job_detail`` is the payload it sends."""

    id: int
    policy_id: int
    event_type: str
    notify_type: str
    status: str
    status_text: str
    job_detail: str
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, delivery: Delivery) -> WebhookJob:
        """The wire form of a delivery."""
        return cls(
            id=delivery.id,
            policy_id=delivery.policy_id or 0,
            event_type=delivery.event_type,
            notify_type=delivery.notify_type,
            status=str(delivery.status),
            status_text=delivery.status_text,
            job_detail=delivery.payload,
            created_at=timestamp(delivery.created_at),
            updated_at=timestamp(delivery.updated_at),
        )


class WebhookJobList(ResponseModel):
    """``ListInstanceWebhookJobsResponse``."""

    jobs: list[WebhookJob]
    total: int
