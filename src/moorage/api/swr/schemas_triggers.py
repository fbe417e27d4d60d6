"""Bodies and answers of the trigger operations (CreateTrigger, ListTriggersDetails, ShowTrigger,
UpdateTrigger): ``CreateTriggerRequestBody``, ``UpdateTriggerRequestBody``, ``Trigger`` and
``TriggerHistories`` field for field (every value a string, as the SDK reads them), plus moorage's
``webhook`` target, signing ``secret`` and the ``executed``/``notice`` that say whether moorage carries
the trigger out."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from moorage.api.response_model import ResponseModel
from moorage.api.swr.wire import format_time
from moorage.domain.triggers import NOT_EXECUTED, Trigger
from moorage.domain.webhooks import MASK, Delivery, WebhookTarget, delivery_summary
from moorage.services.events.triggers import TriggerFields, TriggerView, parse_enable


class TriggerWebhook(BaseModel):
    """moorage's webhook target of a ``webhook`` trigger (``auth_header`` answered as ``******``)."""

    model_config = ConfigDict(extra="ignore")
    address: str = Field(max_length=2048)
    auth_header: str | None = Field(default=None, max_length=4096)
    skip_cert_verify: bool | None = None


class CreateTriggerBody(BaseModel):
    """``CreateTriggerRequestBody`` (+ ``webhook`` and ``secret`` for the ``webhook`` kind)."""

    model_config = ConfigDict(extra="ignore")
    name: str = Field(max_length=64)
    trigger_mode: str | None = Field(default=None, max_length=16)
    trigger_type: str = Field(max_length=16)
    condition: str = Field(default="", max_length=512)
    enable: str | None = Field(default=None, max_length=8)
    action: str | None = Field(default=None, max_length=32)
    app_type: str | None = Field(default=None, max_length=32)
    application: str | None = Field(default=None, max_length=255)
    cluster_id: str | None = Field(default=None, max_length=64)
    cluster_name: str | None = Field(default=None, max_length=255)
    cluster_ns: str | None = Field(default=None, max_length=255)
    container: str | None = Field(default=None, max_length=255)
    webhook: TriggerWebhook | None = None
    secret: str | None = Field(default=None, max_length=256)

    def fields(self) -> TriggerFields:
        """What the request sets (``enable`` defaults to true, ``trigger_mode`` to cce, as SWR's)."""
        target = (
            None
            if self.webhook is None
            else WebhookTarget(
                address=self.webhook.address,
                auth_header=self.webhook.auth_header or "",
                skip_cert_verify=bool(self.webhook.skip_cert_verify),
            )
        )
        return TriggerFields(
            name=self.name,
            mode=self.trigger_mode or "cce",
            trigger_type=self.trigger_type,
            condition=self.condition,
            enabled=parse_enable(self.enable, default=True),
            action=self.action or "update",
            app_type=self.app_type or "",
            application=self.application or "",
            cluster_id=self.cluster_id or "",
            cluster_name=self.cluster_name or "",
            cluster_ns=self.cluster_ns or "",
            container=self.container or "",
            webhook=target,
            secret=self.secret,
        )


class UpdateTriggerBody(BaseModel):
    """``UpdateTriggerRequestBody``: ``enable``, ``true`` or ``false``."""

    model_config = ConfigDict(extra="ignore")
    enable: str = Field(max_length=8)


class CreatedTrigger(ResponseModel):
    """What a create answers (``CreateTriggerResponse`` reads nothing): whether moorage carries the
    trigger out, why not, and a webhook trigger's signing secret (shown this once)."""

    executed: bool
    notice: str | None = None
    signing_secret: str | None = None


class TriggerHistoryView(ResponseModel):
    """``TriggerHistories``: one match of the trigger (one delivery)."""

    action: str
    app_type: str
    application: str
    cluster_id: str
    cluster_name: str
    cluster_ns: str
    condition: str
    container: str
    created_at: str
    creator_name: str
    detail: str
    result: str
    tag: str


class TriggerModel(ResponseModel):
    """``Trigger`` / ``ShowTriggerResponse`` (+ ``webhook``, ``executed``, ``notice``)."""

    action: str
    app_type: str
    application: str
    cluster_id: str
    cluster_name: str
    cluster_ns: str
    condition: str
    container: str
    created_at: str
    creator_name: str
    enable: str
    name: str
    trigger_history: list[TriggerHistoryView]
    trigger_mode: str
    trigger_type: str
    webhook: TriggerWebhook | None = None
    executed: bool
    notice: str

    @classmethod
    def of(cls, view: TriggerView) -> TriggerModel:
        """The wire form of a trigger and its newest deliveries."""
        trigger = view.trigger
        return cls(
            action=trigger.action,
            app_type=trigger.app_type,
            application=trigger.application,
            cluster_id=trigger.cluster_id,
            cluster_name=trigger.cluster_name,
            cluster_ns=trigger.cluster_ns,
            condition=trigger.condition,
            container=trigger.container,
            created_at=format_time(trigger.created_at),
            creator_name=trigger.creator_name,
            enable="true" if trigger.enabled else "false",
            name=trigger.name,
            trigger_history=[_history(trigger, d) for d in view.history],
            trigger_mode=str(trigger.mode),
            trigger_type=str(trigger.trigger_type),
            webhook=TriggerWebhook(
                address=trigger.address,
                auth_header=MASK if trigger.has_auth_header else "",
                skip_cert_verify=trigger.skip_cert_verify,
            )
            if trigger.mode.executed
            else None,
            executed=trigger.mode.executed,
            notice=notice(trigger),
        )


def notice(trigger: Trigger) -> str:
    """Why moorage does not carry a trigger out (empty when it does)."""
    return "" if trigger.mode.executed else NOT_EXECUTED.format(mode=trigger.mode.upper())


def _history(trigger: Trigger, delivery: Delivery) -> TriggerHistoryView:
    return TriggerHistoryView(
        action=trigger.action,
        app_type=trigger.app_type,
        application=trigger.application,
        cluster_id=trigger.cluster_id,
        cluster_name=trigger.cluster_name,
        cluster_ns=trigger.cluster_ns,
        condition=trigger.condition,
        container=trigger.container,
        created_at=format_time(delivery.created_at),
        creator_name=trigger.creator_name,
        detail=delivery.status_text,
        result=delivery_summary(delivery.status),
        tag=delivery.tag,
    )
