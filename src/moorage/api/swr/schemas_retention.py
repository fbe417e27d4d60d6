"""Bodies and answers of the shared edition's retention operations (CreateRetention, ListRetentions,
ShowRetention, UpdateRetention, ListRetentionHistories), field for field as ``huaweicloudsdkswr``'s
models define them: ``CreateRetentionRequestBody`` / ``UpdateRetentionRequestBody`` (``Rule``,
``TagSelector``), ``Retention``, ``RetentionLog`` and the responses."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from moorage.api.response_model import ResponseModel
from moorage.api.swr.wire import format_time
from moorage.domain.retention import RetentionLog, SharedRetention, SharedRule
from moorage.services.retention.shared import SharedRuleFields

# Requests -----------------------------------------------------------------------------------------


class TagSelectorBody(BaseModel):
    """``TagSelector``: ``kind`` ``label`` (a tag) or ``regexp`` (a regular expression)."""

    model_config = ConfigDict(extra="ignore")
    kind: str = Field(max_length=32)
    pattern: str = Field(max_length=4096)


class RuleBody(BaseModel):
    """``Rule``: ``template`` ``date_rule`` (``params`` ``{"days": "30"}``) or ``tag_rule``
    (``{"num": "10"}``), and the tags it leaves alone."""

    model_config = ConfigDict(extra="ignore")
    template: str = Field(max_length=64)
    params: dict[str, Any] = Field(max_length=8)
    tag_selectors: list[TagSelectorBody] = Field(default_factory=list, max_length=256)

    def fields(self) -> SharedRuleFields:
        """What the request says, to be checked."""
        return SharedRuleFields(self.template, self.params, tuple((s.kind, s.pattern) for s in self.tag_selectors))


class RetentionBody(BaseModel):
    """``CreateRetentionRequestBody`` / ``UpdateRetentionRequestBody``."""

    model_config = ConfigDict(extra="ignore")
    algorithm: str = Field(max_length=16)
    rules: list[RuleBody] = Field(max_length=64)


# Answers ------------------------------------------------------------------------------------------


class TagSelectorView(ResponseModel):
    """``TagSelector``."""

    kind: str
    pattern: str


class RuleView(ResponseModel):
    """``Rule`` (``params`` values are strings, as SWR writes them)."""

    template: str
    params: dict[str, str]
    tag_selectors: list[TagSelectorView]

    @classmethod
    def of(cls, rule: SharedRule) -> RuleView:
        """The wire form."""
        return cls(
            template=rule.template.value,
            params={rule.template.parameter: str(rule.count)},
            tag_selectors=[TagSelectorView(kind=s.kind.value, pattern=s.pattern) for s in rule.tag_selectors],
        )


class RetentionView(ResponseModel):
    """``Retention`` (and ``ShowRetentionResponse``); ``scope`` is SWR's reserved field, empty."""

    algorithm: str
    id: int
    rules: list[RuleView]
    scope: str

    @classmethod
    def of(cls, retention: SharedRetention) -> RetentionView:
        """The wire form."""
        return cls(
            algorithm=retention.algorithm, id=retention.id, rules=[RuleView.of(r) for r in retention.rules], scope=""
        )


class CreatedRetention(ResponseModel):
    """``CreateRetentionResponse``."""

    id: int


class RetentionLogView(ResponseModel):
    """``RetentionLog``: one tag a retention deleted."""

    created_at: str
    id: int
    namespace: str
    repo: str
    retention_id: int
    rule_type: str
    tag: str

    @classmethod
    def of(cls, entry: RetentionLog) -> RetentionLogView:
        """The wire form."""
        return cls(
            created_at=format_time(entry.created_at),
            id=entry.id,
            namespace=entry.namespace,
            repo=entry.repository,
            retention_id=entry.retention_id,
            rule_type=entry.rule_type,
            tag=entry.tag,
        )


class RetentionLogList(ResponseModel):
    """``ListRetentionHistoriesResponse`` (its ``Content-Range`` is a header)."""

    retention_log: list[RetentionLogView]
    total: int
