"""The finding types' JSON form: round trip, schema, strict reading, visibility marks, order."""

from __future__ import annotations

import json

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from moorage.scanner.checks import (
    Category,
    CheckError,
    MalwareEngine,
    MalwareFinding,
    SecretFinding,
    SettingFinding,
    Severity,
    finding_from_json,
    finding_to_json,
    mark_final_visibility,
    sort_findings,
)
from moorage.scanner.checks.findings import FINDING_SCHEMA_PATH

SCHEMA = json.loads(FINDING_SCHEMA_PATH.read_text())
text = st.text(max_size=40)
paths = st.from_regex(r"/[a-z0-9/._-]{0,30}", fullmatch=True)
severities = st.sampled_from(list(Severity))
secret_findings = st.builds(
    SecretFinding,
    rule_id=st.from_regex(r"secret\.[a-z-]{1,20}", fullmatch=True),
    severity=severities,
    message=text.filter(bool),
    path=paths,
    layer_digest=text,
    line=st.integers(1, 10**6),
    redacted_match=text,
    in_final_filesystem=st.booleans(),
)
malware_findings = st.builds(
    MalwareFinding,
    rule_id=st.from_regex(r"malware\.[a-z.-]{1,20}", fullmatch=True),
    severity=severities,
    message=text.filter(bool),
    path=paths,
    layer_digest=text,
    engine=st.sampled_from(list(MalwareEngine)),
    sha256=st.one_of(st.just(""), st.from_regex(r"[0-9a-f]{64}", fullmatch=True)),
    in_final_filesystem=st.booleans(),
)
setting_findings = st.builds(
    SettingFinding,
    category=st.sampled_from([Category.BASELINE, Category.IMAGE_CONFIG, Category.BUILD_COMMAND]),
    rule_id=st.from_regex(r"(baseline|config|history)\.[a-z0-9-]{1,20}", fullmatch=True),
    severity=severities,
    message=text.filter(bool),
    path=st.one_of(st.just(""), paths),
    layer_digest=text,
    evidence=text,
    history_index=st.one_of(st.none(), st.integers(0, 500)),
)
any_finding = st.one_of(secret_findings, malware_findings, setting_findings)


@given(any_finding)
def test_json_round_trip_and_schema(finding: SecretFinding | MalwareFinding | SettingFinding) -> None:
    body = finding_to_json(finding)
    encoded = json.loads(json.dumps(body))
    jsonschema.validate(encoded, SCHEMA, cls=jsonschema.Draft202012Validator)
    assert finding_from_json(encoded) == finding


def test_json_form_is_the_documented_one() -> None:
    finding = SecretFinding(
        rule_id="secret.aws-access-key-id",
        severity=Severity.HIGH,
        message="AWS access key id in /app/.env",
        path="/app/.env",
        layer_digest="sha256:abc",
        line=3,
        redacted_match="AKIA********",
    )
    assert finding_to_json(finding) == {
        "category": "secret",
        "rule_id": "secret.aws-access-key-id",
        "severity": "high",
        "message": "AWS access key id in /app/.env",
        "path": "/app/.env",
        "layer_digest": "sha256:abc",
        "line": 3,
        "redacted_match": "AKIA********",
        "in_final_filesystem": True,
    }


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"category": "virus", "rule_id": "x", "severity": "high", "message": "m"},
        {
            "category": "secret",
            "rule_id": "x",
            "severity": "extreme",
            "message": "m",
            "line": 1,
            "redacted_match": "",
        },
        {"category": "secret", "rule_id": "x", "severity": "high", "message": "m", "redacted_match": ""},
        {
            "category": "secret",
            "rule_id": "x",
            "severity": "high",
            "message": "m",
            "line": "1",
            "redacted_match": "",
        },
        {
            "category": "secret",
            "rule_id": "x",
            "severity": "high",
            "message": "m",
            "line": True,
            "redacted_match": "",
        },
        {"category": "malware", "rule_id": "x", "severity": "high", "message": "m", "engine": "clamav"},
        {"category": "baseline", "rule_id": "x", "severity": "low", "message": "m", "history_index": "2"},
        {
            "category": "secret",
            "rule_id": 5,
            "severity": "high",
            "message": "m",
            "line": 1,
            "redacted_match": "",
        },
    ],
)
def test_from_json_rejects_what_is_not_a_finding(body: dict[str, object]) -> None:
    with pytest.raises(CheckError):
        finding_from_json(body)


def test_mark_final_visibility_flags_deleted_and_replaced_files() -> None:
    def secret(path: str, layer: str) -> SecretFinding:
        return SecretFinding("secret.x", Severity.HIGH, "m", path, layer, 1, "****")

    setting = SettingFinding(Category.BASELINE, "baseline.x", Severity.LOW, "m", path="/etc/shadow")
    marked = mark_final_visibility(
        [secret("/kept", "L1"), secret("/deleted", "L1"), secret("/replaced", "L1"), setting],
        {"/kept": "L1", "/replaced": "L2"},
    )
    assert [getattr(f, "in_final_filesystem", None) for f in marked] == [True, False, False, None]


def test_sort_puts_most_severe_first() -> None:
    low = SettingFinding(Category.BASELINE, "baseline.a", Severity.LOW, "m")
    critical = SettingFinding(Category.BASELINE, "baseline.b", Severity.CRITICAL, "m")
    medium = SecretFinding("secret.c", Severity.MEDIUM, "m", "/p", "", 1, "")
    assert sort_findings([low, medium, critical]) == [critical, medium, low]
