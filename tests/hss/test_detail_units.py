"""Units of the detail queries, without a server: the password-policy plug-in and its evaluation,
file-path allowlists, report parsing of untrusted documents, the report renderers (CSV parses
back, HTML is well-formed whatever the values) and the HSS vocabulary, with property tests."""

from __future__ import annotations

import csv
import fnmatch
import io
from typing import Any
from xml.etree import ElementTree

from hypothesis import given, settings
from hypothesis import strategies as st

from moorage.domain.errors import Invalid
from moorage.scanner.files import FileEntry, FileKind
from moorage.scanner.flatten import FlatView
from moorage.scanner.layers import LayerScan
from moorage.services.security.detail_base import path_allowed
from moorage.services.security.detail_reader import parse_report
from moorage.services.security.detail_vocabulary import (
    RISK_LEVELS,
    choice,
    necessity_filter,
    repair_necessity,
    risk_level,
    vul_type,
)
from moorage.services.security.password_policy import PasswordPolicyPlugin, evaluate, shadow_accounts
from moorage.services.security.reports import ReportTable, from_json, render_csv, render_html, to_json

XHTML = "{http://www.w3.org/1999/xhtml}"


def view(files: dict[str, bytes]) -> FlatView:
    """A one-layer image holding ``files``, with the plug-in's results as a scan would keep them."""
    plugin = PasswordPolicyPlugin()
    entries = tuple(FileEntry(path, FileKind.REGULAR, len(content), 0o644) for path, content in files.items())
    results = {plugin.name: {e.path: plugin.extract(e, files[e.path]) for e in entries if plugin.wants(e)}}
    return FlatView([LayerScan("sha256:" + "0" * 64, entries, results=results)])


def test_a_strict_policy_holds_every_rule() -> None:
    strict = view(
        {
            "/etc/security/pwquality.conf": b"minlen = 12\nucredit = -1\nlcredit = -1\ndcredit = -1\nocredit = -1\n",
            "/etc/pam.d/common-password": b"password requisite pam_pwquality.so retry=3\n",
        }
    )
    complexity = evaluate(strict)
    assert complexity.compliant and complexity.suggestion == ""


def test_without_pam_quality_only_the_length_can_hold() -> None:
    loose = evaluate(view({"/etc/login.defs": b"PASS_MIN_LEN 5\n", "/etc/security/pwquality.conf": b"ucredit=-1\n"}))
    assert (loose.min_length, loose.uppercase_letter, loose.number) == (False, False, False)
    assert "minlen" in loose.suggestion
    long_enough = evaluate(view({"/etc/login.defs": b"# comment\nPASS_MIN_LEN\t10\n"}))
    assert long_enough.min_length and not long_enough.compliant
    minclass = evaluate(view({"/etc/pam.d/system-auth": b"password requisite pam_pwquality.so minlen=9 minclass=4\n"}))
    assert minclass.compliant


def test_shadow_accounts_are_read_and_bad_lines_skipped() -> None:
    shadow = b"root:$6$x$y:19000:0:99999:7:::\n\nbroken\nguest::abc:0::::\n" + b"x" * 70 + b":h:1\n"
    accounts = shadow_accounts(view({"/etc/shadow": shadow}))
    assert [(a.name, a.password_field, a.changed_day) for a in accounts] == [
        ("root", "$6$x$y", 19000),
        ("guest", "", 0),
    ]


@given(
    st.binary(max_size=2000),
    st.sampled_from(["/etc/shadow", "/etc/login.defs", "/etc/security/pwquality.conf", "/etc/pam.d/passwd"]),
)
@settings(max_examples=150, deadline=None)
def test_the_plugin_takes_any_bytes(content: bytes, path: str) -> None:
    complexity = evaluate(view({path: content}))
    assert isinstance(complexity.compliant, bool)
    assert all(len(a.name) <= 64 for a in shadow_accounts(view({path: content})))


def oracle_allowed(path: str, entries: list[str]) -> bool:
    """A second reading of the allowlist rule: exact, below a directory, or a glob."""
    for entry in entries:
        if not entry:
            continue
        if set(entry) & set("*?["):
            if fnmatch.fnmatchcase(path, entry):
                return True
            continue
        base = entry.rstrip("/")
        if path == base or (path + "/").startswith(base + "/"):
            return True
    return False


SEGMENT = st.text(alphabet="abc*?.", min_size=1, max_size=4)


@given(
    st.lists(SEGMENT, min_size=1, max_size=4).map(lambda p: "/" + "/".join(p)),
    st.lists(st.lists(SEGMENT, min_size=0, max_size=3).map(lambda p: "/" + "/".join(p)), max_size=4),
)
@settings(max_examples=300, deadline=None)
def test_path_allowlist_against_an_oracle(path: str, entries: list[str]) -> None:
    assert path_allowed(path, entries) == oracle_allowed(path, entries)


def test_path_allowlist_examples() -> None:
    assert path_allowed("/srv/app/.env", ["/srv/app"]) and path_allowed("/srv/app/.env", ["/srv/app/"])
    assert not path_allowed("/srv/application/.env", ["/srv/app"])
    assert path_allowed("/srv/app/.env", ["/srv/*/.env"]) and not path_allowed("/srv/app/.env", [])


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=25,
)
KEYS = st.sampled_from(["distro", "image", "vulnerabilities", "inventory", "skipped_packages", "layers", "packages"])


@given(st.dictionaries(KEYS, JSON, max_size=5))
@settings(max_examples=200, deadline=None)
def test_report_parsing_takes_any_document(document: dict[str, Any]) -> None:
    facts = parse_report("sha256:x", document)
    assert all(isinstance(p.name, str) for p in facts.packages)


def test_report_parsing_reads_the_parts() -> None:
    facts = parse_report(
        "sha256:x",
        {
            "distro": {"id": "debian", "pretty_name": "Debian 12", "version_id": "12"},
            "image": {"layers": [{"index": 0, "digest": "sha256:a", "size": 10, "created_by": "ADD x"}, "junk"]},
            "vulnerabilities": [{"finding_id": "f1", "description": "d" * 5000, "links": ["https://x", 3]}],
            "inventory": {
                "packages": [
                    {"ecosystem": "deb", "name": "bash", "version": "5", "purl": "p", "path": ""},
                    {"ecosystem": "pypi", "name": "odd", "version": "?", "purl": "q", "path": "/a"},
                ]
            },
            "skipped_packages": [{"purl": "q", "path": "/a", "reason": "unreadable version"}],
        },
    )
    assert (facts.distro_name, facts.distro_version, [layer.digest for layer in facts.layers]) == (
        "Debian 12",
        "12",
        ["sha256:a"],
    )
    assert len(facts.advisories["f1"].description) == 4000 and facts.advisories["f1"].links == ("https://x",)
    assert [(p.name, p.compliant, p.note) for p in facts.packages] == [
        ("bash", True, ""),
        ("odd", False, "unreadable version"),
    ]


CELLS = st.text(max_size=30)


@given(st.lists(st.tuples(CELLS, CELLS, CELLS), max_size=6), CELLS)
@settings(max_examples=150, deadline=None)
def test_renderers_round_trip_any_values(rows: list[tuple[str, str, str]], title: str) -> None:
    table = from_json(to_json(ReportTable("apps", title, ("a", "b", "c"), tuple(rows), 1, 1_700_000_000_000)))
    assert table.rows == tuple(rows)
    parsed = list(csv.reader(io.StringIO(render_csv(table).decode("utf-8-sig"), newline="")))
    assert parsed[0] == ["a", "b", "c"] and len(parsed) == len(rows) + 1
    for written, read in zip(rows, parsed[1:], strict=True):
        assert [
            r[1:] if r.startswith("'") and w[:1] in "=+-@\t\r" else r for w, r in zip(written, read, strict=True)
        ] == list(written)
    document = ElementTree.fromstring(render_html(table))
    assert document.tag == f"{XHTML}html"
    assert len(list(document.iter(f"{XHTML}tr"))) == len(rows) + 1


def test_vocabulary() -> None:
    assert [repair_necessity(s) for s in ("critical", "high", "medium", "low", "negligible")] == [
        "immediate_repair",
        "immediate_repair",
        "delay_repair",
        "not_needed_repair",
        "not_needed_repair",
    ]
    assert [risk_level(s) for s in ("critical", "high", "medium", "unknown")] == ["Critical", "High", "Medium", "Low"]
    assert (vul_type("deb"), vul_type("rpm"), vul_type("pypi")) == ("linux_vul", "linux_vul", "app_vul")


@given(st.sampled_from(RISK_LEVELS), st.lists(st.booleans(), min_size=8, max_size=8))
def test_a_choice_is_read_in_any_case_and_given_back_as_spelled(level: str, upper: list[bool]) -> None:
    """ListImageBuildCommandRisks documents ``critical``, ListGeneralImageVuls ``Critical``: both name one level."""
    spelled = "".join(c.upper() if u else c.lower() for c, u in zip(level, upper * 2, strict=False))
    assert choice("risk_level", spelled, RISK_LEVELS) == level


def test_a_choice_outside_the_vocabulary_is_invalid() -> None:
    try:
        choice("risk_level", "severe", RISK_LEVELS)
    except Invalid as error:
        assert "Critical, High, Medium, Low" in error.message
    else:
        raise AssertionError("'severe' was accepted")
    assert choice("risk_level", "", RISK_LEVELS) is None


def test_repair_necessity_filters_by_necessity_or_by_risk_level() -> None:
    assert necessity_filter("immediate_repair") == ("immediate_repair", None)
    assert necessity_filter("Low") == (None, "Low")  # ListVulAffectImages documents risk levels here
    assert necessity_filter("critical") == (None, "Critical")
    assert necessity_filter(None) == (None, None)
