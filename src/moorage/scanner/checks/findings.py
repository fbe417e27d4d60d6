"""What the checks report: frozen finding types with a stable JSON form.

The registry stores findings as JSON and the HSS API lists them, so the JSON form is a contract:
fields are only ever added (with defaults), never renamed or removed. ``findings.schema.json``
beside this module (``FINDING_SCHEMA_PATH``) is its JSON Schema; every finding serialises as one object:

    {"category": "secret" | "malware" | "baseline" | "image_config" | "build_command",
     "rule_id": "secret.aws-access-key-id",       stable id, "<family>.<rule>"
     "severity": "critical" | "high" | "medium" | "low",   (the scanner's one scale,
                                                  ``moorage.domain.severity``; checks use these four)
     "message": "AWS access key id",              one line for people
     "path": "/app/.env",                         file inside the image; "" for image-level findings
     "layer_digest": "sha256:...",                layer holding the file or history entry; "" if none
     ... category-specific fields:
     secret:   "line": 3, "redacted_match": "AKIA****************",
               "in_final_filesystem": true
     malware:  "engine": "yara" | "sha256-blocklist", "sha256": "<hex of the file or empty>",
               "in_final_filesystem": true
     baseline, image_config, build_command:
               "evidence": "user root (uid 0)", "history_index": 4 | null}

A secret's value never appears in a finding: ``redacted_match`` keeps at most a short, non-secret
prefix (a key type marker such as ``AKIA``) and masks the rest. ``in_final_filesystem`` is false
when a later layer deleted or replaced the file: it still ships inside the image.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from moorage.domain.severity import Severity as Severity  # re-exported: the one scale
from moorage.scanner.checks.errors import CheckError

FINDING_SCHEMA_PATH = Path(__file__).with_name("findings.schema.json")
"""JSON Schema (2020-12) of a finding's JSON form, shipped with the package."""


class Category(StrEnum):
    """Which HSS risk list a finding belongs to; the values are the JSON form."""

    SECRET = "secret"  # noqa: S105 (a category name)
    MALWARE = "malware"
    BASELINE = "baseline"
    IMAGE_CONFIG = "image_config"
    BUILD_COMMAND = "build_command"


class MalwareEngine(StrEnum):
    """What found a malicious file."""

    YARA = "yara"
    SHA256_BLOCKLIST = "sha256-blocklist"


@dataclass(frozen=True, slots=True)
class SecretFinding:
    """Sensitive information (a key, token or password) found in one file of one layer."""

    rule_id: str
    """Stable rule id, ``secret.<rule>``."""
    severity: Severity
    """How bad it is."""
    message: str
    """One line for people, naming what was found (never the secret)."""
    path: str
    """Absolute path of the file inside the image."""
    layer_digest: str
    """Digest of the layer that holds this copy of the file."""
    line: int
    """1-based line of the match in the file."""
    redacted_match: str
    """The match with the secret masked; safe to store, print and log."""
    in_final_filesystem: bool = True
    """False when a later layer deleted or replaced the file (it still ships in the image)."""

    @property
    def category(self) -> Category:
        """Always ``Category.SECRET``."""
        return Category.SECRET


@dataclass(frozen=True, slots=True)
class MalwareFinding:
    """A malicious file: a YARA rule matched it or its SHA-256 is on a blocklist."""

    rule_id: str
    """Stable rule id: ``malware.yara.<namespace>.<rule>`` or ``malware.sha256-blocklist``."""
    severity: Severity
    """How bad it is."""
    message: str
    """One line for people: what the rule or blocklist entry says the file is."""
    path: str
    """Absolute path of the file inside the image."""
    layer_digest: str
    """Digest of the layer that holds this copy of the file."""
    engine: MalwareEngine
    """What found it."""
    sha256: str = ""
    """Hex SHA-256 of the whole file; empty when the file was larger than the content cap."""
    in_final_filesystem: bool = True
    """False when a later layer deleted or replaced the file (it still ships in the image)."""

    @property
    def category(self) -> Category:
        """Always ``Category.MALWARE``."""
        return Category.MALWARE


@dataclass(frozen=True, slots=True)
class SettingFinding:
    """An unsafe setting: a baseline risk, an image-configuration risk or a risky build command."""

    category: Category
    """``BASELINE``, ``IMAGE_CONFIG`` or ``BUILD_COMMAND``."""
    rule_id: str
    """Stable rule id, ``baseline.<rule>``, ``config.<rule>`` or ``history.<rule>``."""
    severity: Severity
    """How bad it is."""
    message: str
    """One line for people."""
    path: str = ""
    """File the setting lives in (``/etc/shadow``); empty for image-level findings."""
    layer_digest: str = ""
    """Layer holding the file or the history entry; empty when unknown or image-level."""
    evidence: str = ""
    """The offending value, shortened and with any secret masked (``user root (uid 0)``)."""
    history_index: int | None = None
    """Index in the image config's ``history`` list, for build-command findings."""


Finding = SecretFinding | MalwareFinding | SettingFinding
"""Any finding a check reports."""


def finding_to_json(finding: Finding) -> dict[str, Any]:
    """Serialise a finding to its stable JSON form (see the module docstring)."""
    body: dict[str, Any] = {"category": finding.category.value}
    for field in dataclasses.fields(finding):
        value = getattr(finding, field.name)
        body[field.name] = value.value if isinstance(value, StrEnum) else value
    return body


def _field(body: Mapping[str, Any], name: str, kind: type, default: Any = None) -> Any:
    """One field of a JSON finding, checked for its type; ``default`` when absent (if given)."""
    if name not in body:
        if default is None:
            raise CheckError(f"not a check finding: {name!r} is missing")
        return default
    value = body[name]
    if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
        raise CheckError(f"not a check finding: {name!r} is not a {kind.__name__}")
    return value


def finding_from_json(body: Mapping[str, Any]) -> Finding:
    """Read a finding back from its JSON form; raise ``CheckError`` if it is not one."""
    try:
        category = Category(_field(body, "category", str))
        severity = Severity(_field(body, "severity", str))
    except ValueError as error:
        raise CheckError(f"not a check finding: {error}") from error
    rule_id: str = _field(body, "rule_id", str)
    message: str = _field(body, "message", str)
    path: str = _field(body, "path", str, "")
    layer_digest: str = _field(body, "layer_digest", str, "")
    if category is Category.SECRET:
        return SecretFinding(
            rule_id=rule_id,
            severity=severity,
            message=message,
            path=path,
            layer_digest=layer_digest,
            line=_field(body, "line", int),
            redacted_match=_field(body, "redacted_match", str),
            in_final_filesystem=_field(body, "in_final_filesystem", bool, True),
        )
    if category is Category.MALWARE:
        try:
            engine = MalwareEngine(_field(body, "engine", str))
        except ValueError as error:
            raise CheckError(f"not a check finding: {error}") from error
        return MalwareFinding(
            rule_id=rule_id,
            severity=severity,
            message=message,
            path=path,
            layer_digest=layer_digest,
            engine=engine,
            sha256=_field(body, "sha256", str, ""),
            in_final_filesystem=_field(body, "in_final_filesystem", bool, True),
        )
    history_index = body.get("history_index")
    if history_index is not None and (isinstance(history_index, bool) or not isinstance(history_index, int)):
        raise CheckError("not a check finding: 'history_index' is not an int or null")
    return SettingFinding(
        category=category,
        rule_id=rule_id,
        severity=severity,
        message=message,
        path=path,
        layer_digest=layer_digest,
        evidence=_field(body, "evidence", str, ""),
        history_index=history_index,
    )


def mark_final_visibility(findings: Iterable[Finding], final_layer_by_path: Mapping[str, str]) -> list[Finding]:
    """Set ``in_final_filesystem`` on file findings from the flattened image.

    ``final_layer_by_path`` maps each path of the final filesystem to the digest of the layer
    whose copy is visible. A secret or malicious file whose path is absent there (a later layer
    deleted it) or comes from another layer (a later layer replaced it) still ships in the
    image, in the layer named by the finding, so it is kept and marked as not visible.
    """
    marked: list[Finding] = []
    for finding in findings:
        if isinstance(finding, SecretFinding | MalwareFinding):
            visible = final_layer_by_path.get(finding.path) == finding.layer_digest
            finding = dataclasses.replace(finding, in_final_filesystem=visible)
        marked.append(finding)
    return marked


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Order findings for reports: most severe first, then by category, path and rule."""
    return sorted(findings, key=lambda f: (-f.severity.rank, f.category.value, f.path, f.rule_id, f.message))
