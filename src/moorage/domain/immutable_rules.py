"""Immutable tag rules of Enterprise Edition namespaces (SWR's ``ImmutableRule``, Harbor's tag
immutability): which tags of which repositories may be pushed only once. Pure data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass

from moorage.domain.enterprise import ScopeRule, Selector

ACTION = "immutable"
"""The only ``action`` SWR documents (a reserved field)."""
TEMPLATE = "immutable_template"
"""The only ``template`` SWR documents (a reserved field)."""


@dataclass(frozen=True, slots=True)
class ImmutableRule:
    """One rule: tags its ``tag_selectors`` accept, in repositories its ``repository_selectors``
    accept (names inside the namespace), are immutable while the rule is not ``disabled``."""

    id: int
    instance_id: str
    namespace_id: int
    namespace_name: str
    priority: int
    disabled: bool
    action: str
    template: str
    tag_selectors: tuple[Selector, ...]
    repository_selectors: tuple[Selector, ...]
    created_at: int
    updated_at: int

    @property
    def scope(self) -> ScopeRule:
        """The rule's selectors as a scope rule (the shape signature policies share)."""
        return ScopeRule(self.tag_selectors, self.repository_selectors)

    def describe(self) -> str:
        """How an error message names the rule: its id, namespace and selectors."""

        def patterns(selectors: tuple[Selector, ...]) -> str:
            return " and ".join(f"{s.decoration} {s.pattern!r}" for s in selectors)

        return (
            f"immutable tag rule {self.id} of namespace {self.namespace_name!r} "
            f"(repositories {patterns(self.repository_selectors)}, tags {patterns(self.tag_selectors)})"
        )
