"""The parts under the orchestrator: the severity scale and filter, the check plug-ins (picklable,
cache keys that follow the options, lossless file contents), finding ids, formats of edge cases."""

from __future__ import annotations

import contextlib
import json
import pickle
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moorage.domain.severity import Severity, parse_severity_filter, severities_at_or_above
from moorage.scanner.advisories.store import AdvisoryStore
from moorage.scanner.check_plugins import FileCheckPlugin, FilesystemContentPlugin, check_plugins
from moorage.scanner.checks.findings import SecretFinding
from moorage.scanner.errors import ParseError
from moorage.scanner.files import FileEntry, FileKind
from moorage.scanner.finding_ids import check_finding_id, package_identity, unique_ids
from moorage.scanner.formats import make_writer
from moorage.scanner.image_inventory import ImageInventory
from moorage.scanner.report import REPORT_SCHEMA, ImageIdentity, ScanReport, report_from_json, report_to_json
from moorage.scanner.scan import scan
from moorage.scanner.sources import OciLayoutSource
from tests.scanner.checks.conftest import aws_key_pair

from .conftest import PlantedImage, scan_options
from .test_cli import SARIF_SCHEMA

severities = st.sampled_from(list(Severity))


@given(severities)
def test_one_level_is_a_threshold(threshold: Severity) -> None:
    chosen = parse_severity_filter(threshold.value.upper())
    assert chosen == {s for s in Severity if s.rank >= threshold.rank} == severities_at_or_above(threshold)


@given(st.sets(severities, min_size=2))
def test_a_list_is_exactly_those_levels(levels: set[Severity]) -> None:
    assert parse_severity_filter(" , ".join(s.value for s in levels)) == levels


def test_severity_scale_is_shared_and_ordered() -> None:
    from moorage.scanner.advisories.records import Severity as AdvisorySeverity
    from moorage.scanner.checks.findings import Severity as CheckSeverity

    assert AdvisorySeverity is CheckSeverity is Severity
    assert [s.rank for s in Severity] == list(range(6))
    assert parse_severity_filter("") == set(Severity)
    for bad in ("severe", "high,severe"):
        try:
            parse_severity_filter(bad)
        except ValueError as exc:
            assert "severe" in str(exc)
        else:
            raise AssertionError(f"{bad!r} was accepted")


def test_check_plugins_pickle_and_rebuild_their_checks() -> None:
    plugins = check_plugins(["secret", "malware", "config"])
    names = sorted(p.name for p in plugins.layer_plugins)
    assert names == ["check-filesystem-content", "check-malware", "check-secret"]
    key_id, _ = aws_key_pair()
    content = f"AWS_ACCESS_KEY_ID={key_id}\n".encode()
    entry = FileEntry("/app/.env", FileKind.REGULAR, len(content), 0o644, layer_digest="sha256:" + "a" * 64)
    for plugin in plugins.layer_plugins:
        copy = pickle.loads(pickle.dumps(plugin))
        assert copy.cache_key == plugin.cache_key
        assert copy.wants(entry) == plugin.wants(entry)
        assert copy.extract(entry, content) == plugin.extract(entry, content)
    secret = next(p for p in plugins.layer_plugins if isinstance(p, FileCheckPlugin) and p.check_name == "secret")
    (body,) = secret.extract(entry, content)  # type: ignore[misc]
    assert body["rule_id"] == "secret.aws-access-key-id" and body["layer_digest"] == entry.layer_digest
    assert key_id[4:] not in json.dumps(body)


def test_cache_keys_follow_the_options_and_the_files_they_name(tmp_path: Path) -> None:
    rules = tmp_path / "site.yar"
    rules.write_text('rule a { strings: $a = "one" condition: $a }\n')
    plain = {p.name: p.cache_key for p in check_plugins(["secret", "malware"]).layer_plugins}
    with_rules = {p.name: p.cache_key for p in check_plugins(["secret", "malware"], _options(rules)).layer_plugins}
    assert plain.keys() == with_rules.keys() and all(plain[n] != with_rules[n] for n in plain)
    again = {p.name: p.cache_key for p in check_plugins(["malware", "secret"], _options(rules)).layer_plugins}
    assert again == with_rules
    rules.write_text('rule a { strings: $a = "two" condition: $a }\n')
    edited = {p.name: p.cache_key for p in check_plugins(["secret", "malware"], _options(rules)).layer_plugins}
    assert edited["check-malware"] != with_rules["check-malware"]
    # The secret plug-in's key does not depend on which other scanners run.
    assert {p.name: p.cache_key for p in check_plugins(["secret"]).layer_plugins}["check-secret"] == plain[
        "check-secret"
    ]


def _options(rules: Path) -> object:
    from moorage.scanner.checks import CheckOptions

    return CheckOptions(yara_rule_files=(rules,))


def test_filesystem_contents_survive_the_cache_encoding() -> None:
    (content_plugin,) = check_plugins(["config"]).layer_plugins
    assert isinstance(content_plugin, FilesystemContentPlugin)

    @given(st.binary(max_size=2048))
    def round_trip(data: bytes) -> None:
        entry = FileEntry("/etc/shadow", FileKind.REGULAR, len(data), 0o640)
        assert content_plugin.wants(entry)
        value = content_plugin.extract(entry, data)
        assert isinstance(value, str)
        assert json.loads(json.dumps(value)).encode("latin-1") == data

    round_trip()
    assert not content_plugin.wants(FileEntry("/etc/hosts", FileKind.REGULAR, 10, 0o644))


def test_ids_tell_apart_what_differs_and_keep_what_is_the_same() -> None:
    def secret(line: int, visible: bool, layer: str) -> SecretFinding:
        return SecretFinding("secret.jwt", Severity.HIGH, "JWT", "/app/a", layer, line, "eyJ****", visible)

    assert check_finding_id(secret(3, True, "sha256:a")) == check_finding_id(secret(3, True, "sha256:b"))
    assert check_finding_id(secret(3, True, "sha256:a")) != check_finding_id(secret(4, True, "sha256:a"))
    assert check_finding_id(secret(3, True, "sha256:a")) != check_finding_id(secret(3, False, "sha256:a"))
    assert unique_ids(["x", "y", "x", "x"]) == ["x", "y", "x-2", "x-3"]
    assert package_identity("pkg:npm/%40babel/traverse@7.0.0?arch=x") == "pkg:npm/%40babel/traverse?arch=x"
    assert package_identity("pkg:deb/debian/libc6@2.36-9?arch=amd64") == "pkg:deb/debian/libc6?arch=amd64"


def test_an_empty_report_renders_in_every_format() -> None:
    empty = ScanReport(image=ImageIdentity("dir:/x"), inventory=ImageInventory(name="dir:/x"), scanners=("secret",))
    sarif = json.loads(make_writer("sarif").render([empty]))
    jsonschema.Draft4Validator(json.loads(SARIF_SCHEMA.read_text())).validate(sarif)
    assert sarif["runs"][0]["results"] == []
    assert "0 findings (none)" in make_writer("table").render([empty])
    assert "\x1b[" in make_writer("table", color=True).render([empty])
    assert json.loads(make_writer("cyclonedx").render([empty]))["vulnerabilities"] == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)


def _paths(doc: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Every key path of a JSON document (for mutating one place of it)."""
    out: list[tuple[object, ...]] = [prefix] if prefix else []
    if isinstance(doc, dict):
        for key, value in doc.items():
            out.extend(_paths(value, (*prefix, key)))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            out.extend(_paths(value, (*prefix, index)))
    return out


def test_stored_reports_are_parsed_or_refused_never_crash(planted: PlantedImage, world_db: Path) -> None:
    """Arbitrary JSON, and a real report with one place replaced: a report or ParseError."""
    with AdvisoryStore(world_db) as store, OciLayoutSource(planted.layout) as source:
        valid = report_to_json(scan(source, scan_options(store, scanners=("vuln", "secret", "config"))))
    paths = _paths(valid)

    @settings(max_examples=300, deadline=None)
    @given(data=st.data(), replacement=json_values, arbitrary=json_values)
    def parse(data: st.DataObject, replacement: object, arbitrary: object) -> None:
        mutated = _replace(valid, data.draw(st.sampled_from(paths)), replacement)
        for doc in (arbitrary, {"schema": REPORT_SCHEMA, "image": arbitrary}, mutated):
            with contextlib.suppress(ParseError):
                report_from_json(doc)

    parse()


def test_non_finite_numbers_in_a_stored_report_are_refused(planted: PlantedImage, world_db: Path) -> None:
    """Python's json reads ``Infinity``; an integer field holding it is a ParseError, not an OverflowError."""
    with AdvisoryStore(world_db) as store, OciLayoutSource(planted.layout) as source:
        valid = report_to_json(scan(source, scan_options(store, scanners=("vuln",))))
    assert valid["database"]["sources"], "the world database names its sources"
    integer_fields = [("database", "sources", 0, "records"), ("database", "schema_version")]
    integer_fields.append(("image", "layers", 0, "index"))
    for path in integer_fields:
        mutated = json.loads(json.dumps(_replace(valid, path, float("inf"))))
        with pytest.raises(ParseError):
            report_from_json(mutated)


def _replace(doc: object, path: tuple[object, ...], value: object) -> object:
    copy = json.loads(json.dumps(doc))
    target = copy
    for key in path[:-1]:
        target = target[key]  # type: ignore[index]
    target[path[-1]] = value  # type: ignore[index]
    return copy
