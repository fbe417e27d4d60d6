"""The doublestar selector of a request body, one model for the three SDK classes that spell it the
same way: ``RuleSelector`` (immutable tag rules), ``RetentionSelector`` (retention policies) and
``SignRuleSelector`` (signature policies, whose ``kind`` may be left out)."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field

from moorage.domain.enterprise import Selector


class SelectorBody(BaseModel):
    """``kind``, ``decoration`` and ``pattern`` are required; what they may say is checked by the
    service (``services/enterprise/selectors.py``), so that a bad one is a 400 in the SWR format."""

    model_config = ConfigDict(extra="ignore")
    kind: str = Field(max_length=32)
    decoration: str = Field(max_length=32)
    pattern: str = Field(max_length=512)
    extras: str | None = Field(default=None, max_length=512)

    def selector(self) -> Selector:
        """The domain form."""
        return Selector(self.kind, self.decoration, self.pattern, self.extras or "")

    @classmethod
    def of(cls, selector: Selector) -> Self:
        """The wire form."""
        return cls(kind=selector.kind, decoration=selector.decoration, pattern=selector.pattern, extras=selector.extras)
