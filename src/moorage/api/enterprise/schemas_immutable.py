"""Bodies and answers of the immutable tag rule operations (ListImmutableRules, CreateImmutableRule,
UpdateImmutableRule): ``RuleSelector``, ``CreateImmutableRuleBody``/``UpdateImmutableRuleBody``,
``ImmutableRule`` and the responses, field for field."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from moorage.api.enterprise.selector_body import SelectorBody
from moorage.api.response_model import ResponseModel
from moorage.domain.immutable_rules import ImmutableRule
from moorage.services.enterprise.immutable_rules import RuleFields


class RuleBody(BaseModel):
    """``CreateImmutableRuleBody`` / ``UpdateImmutableRuleBody``."""

    model_config = ConfigDict(extra="ignore")
    priority: int | None = None
    disabled: bool | None = None
    action: str | None = Field(default=None, max_length=32)
    template: str | None = Field(default=None, max_length=64)
    tag_selectors: list[SelectorBody] = Field(max_length=20)
    scope_selectors: dict[str, list[SelectorBody]] = Field(max_length=8)

    def fields(self) -> RuleFields:
        """What the request sets."""
        return RuleFields(
            tag_selectors=[s.selector() for s in self.tag_selectors],
            scope_selectors={
                kind: [s.selector() for s in selectors] for kind, selectors in self.scope_selectors.items()
            },
            priority=self.priority,
            disabled=self.disabled,
            action=self.action,
            template=self.template,
        )


class ImmutableRuleView(ResponseModel):
    """``ImmutableRule``."""

    id: int
    namespace_id: int
    namespace_name: str
    priority: int
    disabled: bool
    action: str
    template: str
    tag_selectors: list[SelectorBody]
    scope_selectors: dict[str, list[SelectorBody]]

    @classmethod
    def of(cls, rule: ImmutableRule) -> ImmutableRuleView:
        """The wire form of a rule."""
        return cls(
            id=rule.id,
            namespace_id=rule.namespace_id,
            namespace_name=rule.namespace_name,
            priority=rule.priority,
            disabled=rule.disabled,
            action=rule.action,
            template=rule.template,
            tag_selectors=[SelectorBody.of(s) for s in rule.tag_selectors],
            scope_selectors={"repository": [SelectorBody.of(s) for s in rule.repository_selectors]},
        )


class ImmutableRuleList(ResponseModel):
    """``ListImmutableRulesResponse``."""

    immutable_rules: list[ImmutableRuleView]
    total: int


class CreatedRule(ResponseModel):
    """``CreateImmutableRuleResponse``."""

    id: int
