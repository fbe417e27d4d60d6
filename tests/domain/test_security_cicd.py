"""The CI/CD gate's rule (``domain/security_cicd.evaluate_gate``) against a simple oracle, and the
image whitelist's patterns."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from moorage.domain.security_cicd import CicdGate, evaluate_gate, image_whitelisted
from moorage.domain.severity import Severity
from tests.fuzz.budget import FUZZ

IDS = st.sampled_from(["CVE-1", "CVE-2", "GHSA-3", "CVE-4"])
SEVERITIES = st.sampled_from([s.value for s in Severity])
FINDINGS = st.lists(st.tuples(IDS, SEVERITIES, st.lists(IDS, max_size=2).map(tuple)), max_size=6)


def test_defaults_block_critical_high_secrets_and_malware() -> None:
    gate = CicdGate()
    verdict = evaluate_gate(
        gate,
        image_name="app",
        image_version="v1",
        vulnerabilities=[("CVE-1", "critical", ())],
        secrets=0,
        malicious_files=0,
    )
    assert not verdict.passed and verdict.reasons == ("CVE-1 (critical)",)
    assert evaluate_gate(
        gate,
        image_name="app",
        image_version="v1",
        vulnerabilities=[("CVE-1", "medium", ())],
        secrets=0,
        malicious_files=0,
    ).passed
    assert not evaluate_gate(
        gate, image_name="app", image_version="v1", vulnerabilities=[], secrets=1, malicious_files=0
    ).passed
    assert not evaluate_gate(
        gate, image_name="app", image_version="v1", vulnerabilities=[], secrets=0, malicious_files=2
    ).passed
    relaxed = CicdGate(block_on_secrets=False, block_on_malicious_files=False)
    assert evaluate_gate(
        relaxed, image_name="app", image_version="v1", vulnerabilities=[], secrets=3, malicious_files=3
    ).passed


def test_lists_whitelist_by_alias_and_blocklist_any_severity() -> None:
    gate = CicdGate(vulnerability_whitelist=("CVE-9",), vulnerability_blocklist=("GHSA-low",))
    allowed = evaluate_gate(
        gate,
        image_name="a",
        image_version="",
        vulnerabilities=[("GHSA-x", "critical", ("CVE-9",))],
        secrets=0,
        malicious_files=0,
    )
    assert allowed.passed
    blocked = evaluate_gate(
        gate, image_name="a", image_version="", vulnerabilities=[("GHSA-low", "low", ())], secrets=0, malicious_files=0
    )
    assert not blocked.passed and "blocklist" in blocked.reasons[0]


def test_image_whitelist_patterns() -> None:
    assert image_whitelisted(["team/*"], name="team/app", version="v1")
    assert image_whitelisted(["team/app:v1"], name="team/app", version="v1")
    assert not image_whitelisted(["team/app:v1"], name="team/app", version="v2")
    assert not image_whitelisted(["other/*"], name="team/app", version="v1")
    gate = CicdGate(image_whitelist=("team/*",))
    verdict = evaluate_gate(
        gate,
        image_name="team/app",
        image_version="v1",
        vulnerabilities=[("CVE-1", "critical", ())],
        secrets=5,
        malicious_files=5,
    )
    assert verdict.passed


@FUZZ
@given(
    findings=FINDINGS,
    allowed=st.frozensets(IDS, max_size=2),
    blocked=st.frozensets(IDS, max_size=2),
    severities=st.frozensets(st.sampled_from(list(Severity)), max_size=3),
    secrets=st.integers(0, 2),
    malware=st.integers(0, 2),
)
def test_gate_matches_a_simple_oracle(
    findings: list[tuple[str, str, tuple[str, ...]]],
    allowed: frozenset[str],
    blocked: frozenset[str],
    severities: frozenset[Severity],
    secrets: int,
    malware: int,
) -> None:
    gate = CicdGate(
        vulnerability_whitelist=tuple(sorted(allowed)),
        vulnerability_blocklist=tuple(sorted(blocked)),
        block_severities=tuple(severities),
    )
    verdict = evaluate_gate(
        gate, image_name="x", image_version="1", vulnerabilities=findings, secrets=secrets, malicious_files=malware
    )
    failing = any(
        not ({i, *a} & allowed) and (({i, *a} & blocked) or s in {v.value for v in severities}) for i, s, a in findings
    )
    assert verdict.passed == (not failing and not secrets and not malware)
    assert verdict.passed == (not verdict.reasons)
