"""The stored JSON of what Enterprise policies share: a trigger (``{"type", "trigger_settings":
{"cron"}}``) and doublestar selectors (``{"kind", "decoration", "pattern", "extras"}``), written as
the API speaks them by signature, retention, immutability and replication policies."""

from __future__ import annotations

import json
from typing import Any

from moorage.domain.bounded_json import load_document
from moorage.domain.enterprise import Selector, Trigger


def trigger_json(trigger: Trigger) -> str:
    """A trigger as the API's JSON."""
    return json.dumps({"type": trigger.type, "trigger_settings": {"cron": trigger.cron}})


def trigger_from_json(text: str) -> Trigger:
    """A stored trigger (``manual`` when it names none)."""
    raw = load_document(text)
    return Trigger(str(raw.get("type", "manual")), str((raw.get("trigger_settings") or {}).get("cron", "")))


def selector_json(selector: Selector) -> dict[str, str]:
    """A selector as the API's JSON object."""
    return {
        "kind": selector.kind,
        "decoration": selector.decoration,
        "pattern": selector.pattern,
        "extras": selector.extras,
    }


def selectors_from_json(raw: Any) -> tuple[Selector, ...]:
    """Stored selectors (a list of objects; anything else in it is skipped)."""
    return tuple(
        Selector(
            str(s.get("kind", "")), str(s.get("decoration", "")), str(s.get("pattern", "")), str(s.get("extras") or "")
        )
        for s in raw or []
        if isinstance(s, dict)
    )
