"""Maven version ordering: Maven's documented and tested orderings, a total order, and ranges.

The tables are the orderings stated in Maven's "Version Order Specification" (pom.html) and
checked by Maven 3.9's ComparableVersion tests, written out here as facts. ``_MavenModel`` is a
small, separate model of ComparableVersion's nested comparison (items, lists, "null" padding),
used as an oracle on the versions where Maven's own order is consistent.
"""

from __future__ import annotations

from functools import cmp_to_key
from typing import Any

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from moorage.scanner.advisories.records import AffectedPackage, AffectedRange, EventKind, RangeEvent
from moorage.scanner.inventory import Ecosystem
from moorage.scanner.matching.maven_versions import parse_maven_version
from moorage.scanner.matching.ranges import CompiledAffected
from moorage.scanner.matching.versions import SCHEMES, ParsedVersionCache, compare_versions
from tests.fuzz.budget import FUZZ


def _compare(left: str, right: str) -> int:
    return compare_versions(Ecosystem.MAVEN, left, right)


# --- Maven's own tables ------------------------------------------------------------------------

ASCENDING = [
    pytest.param(
        [
            "1-alpha2snapshot", "1-alpha2", "1-alpha-123", "1-beta-2", "1-beta123", "1-m2", "1-m11", "1-rc",
            "1-cr2", "1-rc123", "1-SNAPSHOT", "1", "1-sp", "1-sp2", "1-sp123", "1-abc", "1-def", "1-pom-1",
            "1-1-snapshot", "1-1", "1-2", "1-123",
        ],
        id="qualifiers",
    ),
    pytest.param(
        [
            "2.0", "2.0.a", "2-1", "2.0.2", "2.0.123", "2.1.0", "2.1-a", "2.1b", "2.1-c", "2.1-1", "2.1.0.1", "2.2",
            "2.123", "11.a2", "11.a11", "11.b2", "11.b11", "11.m2", "11.m11", "11", "11.a", "11b", "11c", "11m",
        ],
        id="numbers",
    ),
    pytest.param(["6.1.0rc3", "6.1.0", "6.1H.5-beta"], id="MNG-5568"),
    pytest.param(
        ["20190126.230843", "1234567890.12345", "123456789012345.1H.5-beta", "12345678901234567890.1H.5-beta"],
        id="MNG-6572 big numbers",
    ),
    pytest.param(["1-0.alpha", "1-0.beta", "1"], id="MNG-6964"),
    pytest.param(["1-snapshot", "1", "1-sp"], id="qualifier padding"),
    pytest.param(["1.foo", "1-1", "1.1"], id="separators"),
    pytest.param(["1-foo2", "1-foo10"], id="numbers inside qualifiers"),
    pytest.param(["1-sp-1", "1-ga-1"], id="null at each hyphen"),
    pytest.param(["1-ga.1", "1-sp.1"], id="sp after release"),
    pytest.param(["1.K", "1.7"], id="word below number"),
    pytest.param(["5.aardvark", "5.zebra"], id="unknown words lexically"),
    pytest.param(["1.b", "1.\u03b1"], id="unknown words by code unit"),
    pytest.param(
        [
            "1.0a1-SNAPSHOT", "1.0-alpha1", "1.0beta1-SNAPSHOT", "1.0-b2", "1.0-beta3.SNAPSHOT", "1.0-beta3",
            "1.0-milestone1-SNAPSHOT", "1.0-m2", "1.0-rc1-SNAPSHOT", "1.0-cr1", "1.0-SNAPSHOT", "1.0", "1.0-sp",
            "1.0-a", "1.0-whatever", "1.0.z", "1.0.1", "1.0.1.0.0.0.0.0.0.0.0.0.0.0.1",
        ],
        id="pre-releases to post-releases",
    ),
]  # fmt: skip

PAIRS_ASCENDING = [
    ("1", "2"), ("1.5", "2"), ("1", "2.5"), ("1.0", "1.1"), ("1.1", "1.2"), ("1.0.0", "1.1"), ("1.0.1", "1.1"),
    ("1.1", "1.2.0"), ("1.0-alpha-1", "1.0"), ("1.0-alpha-1", "1.0-alpha-2"), ("1.0-alpha-1", "1.0-beta-1"),
    ("1.0-beta-1", "1.0-SNAPSHOT"), ("1.0-SNAPSHOT", "1.0"), ("1.0-alpha-1-SNAPSHOT", "1.0-alpha-1"),
    ("1.0", "1.0-1"), ("1.0-1", "1.0-2"), ("1.0.0", "1.0-1"), ("2.0-1", "2.0.1"), ("2.0.1-klm", "2.0.1-lmn"),
    ("2.0.1", "2.0.1-xyz"), ("2.0.1", "2.0.1-123"), ("2.0.1-xyz", "2.0.1-123"),
    ("1.0.RC2", "1.0-RC3"), ("1.0-RC3", "1.0.1"),
]  # fmt: skip

EQUAL = [
    ("1", "1"), ("1", "1.0"), ("1", "1.0.0"), ("1.0", "1.0.0"), ("1", "1-0"), ("1", "1.0-0"), ("1.0", "1.0-0"),
    ("1", "1.ga"), ("1", "1-ga"), ("1", "1."), ("1", "1-"), ("1.0.0-foo.0.0", "1-foo"), ("1.0.0-0.0.0", "1"),
    ("1a", "1-a"), ("1a", "1.0-a"), ("1a", "1.0.0-a"), ("1.0a", "1-a"), ("1.0.0a", "1-a"), ("1x", "1-x"),
    ("1x", "1.0-x"), ("1x", "1.0.0-x"), ("1.0x", "1-x"), ("1.0.0x", "1-x"), ("1.foo", "1-foo"),
    ("1ga", "1"), ("1release", "1"), ("1final", "1"), ("1cr", "1rc"), ("1.final", "1"),
    ("1a1", "1-alpha-1"), ("1b2", "1-beta-2"), ("1m3", "1-milestone-3"), ("1-a1", "1-alpha-1"),
    ("1X", "1x"), ("1A", "1a"), ("1B", "1b"), ("1M", "1m"), ("1Ga", "1"), ("1GA", "1"), ("1RELEASE", "1"),
    ("1RELeaSE", "1"), ("1Final", "1"), ("1FinaL", "1"), ("1FINAL", "1"), ("1Cr", "1Rc"), ("1cR", "1rC"),
    ("1m3", "1Milestone3"), ("1m3", "1MileStone3"), ("1m3", "1MILESTONE3"), ("1.0-alpha1", "1.0-ALPHA1"),
    ("1-abcdefghijklmnopqrstuvwxyz", "1-ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    ("5.3.20.RELEASE", "5.3.20"), ("2.0.0.Final", "2"),
]  # fmt: skip


@pytest.mark.parametrize("ascending", ASCENDING)
def test_maven_tables_are_ascending(ascending: list[str]) -> None:
    for low_index, low in enumerate(ascending):
        for high in ascending[low_index + 1 :]:
            assert (_compare(low, high), _compare(high, low)) == (-1, 1), (low, high)
    assert sorted(reversed(ascending), key=cmp_to_key(_compare)) == ascending


@pytest.mark.parametrize(("low", "high"), PAIRS_ASCENDING)
def test_maven_pairs_are_ordered(low: str, high: str) -> None:
    assert (_compare(low, high), _compare(high, low)) == (-1, 1)


@pytest.mark.parametrize(("left", "right"), EQUAL)
def test_maven_equal_versions(left: str, right: str) -> None:
    assert _compare(left, right) == 0
    parsed_left, parsed_right = SCHEMES[Ecosystem.MAVEN].parse(left), SCHEMES[Ecosystem.MAVEN].parse(right)
    assert parsed_left == parsed_right and hash(parsed_left) == hash(parsed_right)


def test_leading_zeros_do_not_count() -> None:
    for digits in range(1, 20):
        assert _compare("0" * (digits - 1) + "1", "1") == 0
        assert _compare("0" * digits, "0") == 0


@pytest.mark.parametrize("qualifier", ["abc", "alpha", "a", "beta", "b", "def", "milestone", "m", "RC"])
def test_a_dotted_qualifier_with_a_number_is_a_hyphen_part(qualifier: str) -> None:
    """MNG-7644: ``1.0.0.X1 < 1.0.0-X2`` and ``2-X = 2.0.X = 2.0.0.X`` for any word ``X``."""
    assert _compare(f"1.0.0.{qualifier}1", f"1.0.0-{qualifier}2") == -1
    assert _compare(f"2-{qualifier}", f"2.0.{qualifier}") == 0
    assert _compare(f"2-{qualifier}", f"2.0.0.{qualifier}") == 0


def test_huge_numbers_keep_their_order() -> None:
    huge = "9" * 200
    assert _compare(f"1.{huge}", f"1.1{huge}") == -1
    assert _compare(f"1.{huge}", f"1.{huge}") == 0
    assert _compare(f"1-{huge}", "1.1") == -1


# --- where Maven is not a total order: the choices made, and that they are consistent --------


def test_words_between_dots_are_ordered_consistently() -> None:
    """Maven orders ``1-rc < 1 < 1.foo-1 < 1-rc`` and ``1.0.rc.1 < 1 < 1.sp.1 < 1.0.rc.1``."""
    assert _compare("1.foo-1", "1-foo-1") == 0
    assert _compare("1.0.rc.1", "1.rc.1") == 0
    for ring in (
        ["1-rc", "1", "1.foo-1"],
        ["1.0.rc.1", "1", "1.sp.1"],
        ["1.0.rc.1", "1", "1.a.1"],
        ["1-0.alpha", "1", "1-sp"],
    ):
        assert sorted(reversed(ring), key=cmp_to_key(_compare)) == ring
        assert _compare(ring[0], ring[2]) == -1
    assert _compare("3.0.beta.2", "3.0") == -1, "a pre-release stays below its release"


def test_univers_disagreements_are_gone() -> None:
    """Orderings univers' Maven comparator got wrong (and the matcher with it)."""
    assert _compare("1.0.0.RC1", "1.0.0-RC2") == -1
    assert _compare("1.0.0.alpha1", "1.0.0-alpha2") == -1
    assert _compare("2.0.a", "2-1") == -1
    assert _compare("1-0.alpha", "1") == -1
    assert _compare("5.3.20.RELEASE", "5.3.20") == 0
    assert _compare("1release", "1") == 0


# --- properties over generated Maven-shaped versions ---------------------------------------

_WORDS = [
    "alpha", "a", "beta", "b", "m", "milestone", "rc", "cr", "RC", "snapshot", "SNAPSHOT", "ga", "final", "Final",
    "release", "RELEASE", "sp", "foo", "x", "jre", "v", "",
]  # fmt: skip
_NUMBERS = [str(n) for n in range(13)] + [
    "00",
    "007",
    "0000000000000000001",
    "2147483648",
    "9223372036854775808",
    "1" * 40,
]
_PIECES = [part + separator for part in _NUMBERS + _WORDS for separator in (".", "-", "")]
maven_shaped = st.builds(
    lambda first, rest: (first + "".join(rest)).rstrip(".-") or first,
    st.sampled_from(_NUMBERS),
    st.lists(st.sampled_from(_PIECES), max_size=7),
)
"""Numbers, qualifiers (known, aliases, unknown, any case), separators, leading zeros, huge numbers."""


@FUZZ
@given(st.lists(maven_shaped, min_size=3, max_size=6))
@example(["1.0.rc.1", "1", "1.a.1"])
@example(["1-rc", "1", "1.foo-1"])
@example([".b58", "0", "b.4"])
def test_maven_order_is_total(texts: list[str]) -> None:
    parsed = [parse_maven_version(text) for text in texts]
    order = [[(a > b) - (a < b) for b in parsed] for a in parsed]
    for i, row in enumerate(order):
        assert row[i] == 0 and parsed[i] == parsed[i]
        for j, sign in enumerate(row):
            assert sign == -order[j][i] and (sign == 0) == (parsed[i] == parsed[j]), (texts[i], texts[j])
            for k, after in enumerate(order[j]):
                if sign <= 0 and after <= 0:
                    assert row[k] <= 0, (texts[i], texts[j], texts[k])


class _MavenModel:
    """ComparableVersion's items: ``("int", n)``, ``("word", rank)`` and lists; ``None`` pads."""

    QUALIFIERS = ("alpha", "beta", "milestone", "rc", "snapshot", "", "sp")
    RELEASE = (5, "")

    @classmethod
    def word(cls, text: str, before_digit: bool) -> tuple[str, Any]:
        if before_digit:
            text = {"a": "alpha", "b": "beta", "m": "milestone"}.get(text, text)
        text = {"ga": "", "final": "", "release": "", "cr": "rc"}.get(text, text)
        rank = (cls.QUALIFIERS.index(text), "") if text in cls.QUALIFIERS else (7, text)
        return ("word", rank)

    @classmethod
    def parse(cls, text: str) -> list[Any]:
        """Items per the specification; a new list for ``-`` and where letters and digits meet."""
        text = text.lower()
        root: list[Any] = []
        lists = [root]

        def sub() -> None:
            lists[-1].append([])
            lists.append(lists[-1][-1])

        tokens = [token for token in _split_keeping(text) if token]
        previous = ""
        for index, token in enumerate(tokens):
            if token in ".-":
                if previous in (".", "-", ""):
                    lists[-1].append(("int", 0))
                if token == "-":
                    sub()
            elif token.isdigit():
                lists[-1].append(("int", int(token)))
                if index + 1 < len(tokens) and tokens[index + 1] not in ".-":
                    sub()
            else:
                following = tokens[index + 1] if index + 1 < len(tokens) else ""
                if following.isdigit():
                    if lists[-1]:
                        sub()
                    lists[-1].append(cls.word(token, True))
                    sub()
                elif following == "" and lists[-1]:
                    sub()
                    lists[-1].append(cls.word(token, False))
                else:
                    lists[-1].append(cls.word(token, False))
            previous = token
        for items in reversed(lists):
            while items and cls.is_null(items[-1]):
                items.pop()
            position = len(items) - 1
            while position >= 0 and isinstance(items[position], list):
                position -= 1
            while position >= 0 and cls.is_null(items[position]):
                del items[position]
                position -= 1
        return root

    @classmethod
    def is_null(cls, item: Any) -> bool:
        return item == [] or item == ("int", 0) or item == ("word", cls.RELEASE)

    @classmethod
    def compare(cls, left: Any, right: Any) -> int:
        if left is None:
            return 0 if right is None else -cls.compare(right, None)
        if isinstance(left, list):
            if right is None:
                return next((result for item in left if (result := cls.compare(item, None))), 0)
            if not isinstance(right, list):
                return -1 if right[0] == "int" else 1
            for index in range(max(len(left), len(right))):
                result = cls.compare(
                    left[index] if index < len(left) else None, right[index] if index < len(right) else None
                )
                if result:
                    return result
            return 0
        kind, value = left
        other = ("word", cls.RELEASE) if right is None and kind == "word" else right
        if right is None and kind == "int":
            return int(value > 0)
        if isinstance(other, list):
            return 1 if kind == "int" else -1
        if kind != other[0]:
            return 1 if kind == "int" else -1
        return (value > other[1]) - (value < other[1])


def _split_keeping(text: str) -> list[str]:
    """Tokens: runs of digits, runs of other characters, and each ``.`` / ``-``."""
    tokens: list[str] = []
    for char in text:
        kind = "sep" if char in ".-" else "digit" if char.isdigit() else "word"
        if tokens and kind != "sep" and tokens[-1] not in ".-" and tokens[-1][0].isdigit() == (kind == "digit"):
            tokens[-1] += char
        else:
            tokens.append(char)
    return tokens


def _maven_consistent(items: list[Any]) -> bool:
    """No word after another item in its list and no list opening a list: Maven orders those totally."""
    for index, item in enumerate(items):
        if isinstance(item, list):
            if index == 0 or not _maven_consistent(item):
                return False
        elif item[0] == "word" and index > 0:
            return False
    return True


@pytest.mark.parametrize(
    ("text", "items"),
    [
        ("1-1.foo-bar1baz-.1", [1, [1, "foo", ["bar", [1, ["baz", [0, 1]]]]]]),
        ("1.0.0-foo.0.0", [1, ["foo"]]),
        ("1-alpha2snapshot", [1, ["alpha", [2, ["snapshot"]]]]),
    ],
)
def test_the_model_splits_as_the_specification_says(text: str, items: list[Any]) -> None:
    def plain(parsed: Any) -> Any:
        if isinstance(parsed, list):
            return [plain(item) for item in parsed]
        kind, value = parsed
        return value if kind == "int" else (_MavenModel.QUALIFIERS[value[0]] if value[0] < 7 else value[1])

    assert plain(_MavenModel.parse(text)) == items


@FUZZ
@given(maven_shaped, maven_shaped)
@example("1.0.0.RC1", "1.0.0-RC2")
@example("1-0.alpha", "1")
def test_maven_matches_the_model_where_maven_is_consistent(left: str, right: str) -> None:
    left_items, right_items = _MavenModel.parse(left), _MavenModel.parse(right)
    assume(_maven_consistent(left_items) and _maven_consistent(right_items))
    assert _compare(left, right) == _MavenModel.compare(left_items, right_items), (left, right)


# --- advisory ranges over Maven versions -------------------------------------------------------


def _maven_range(*events: tuple[str, str]) -> CompiledAffected:
    package = AffectedPackage(
        scope="maven",
        ecosystem=Ecosystem.MAVEN,
        name="org.springframework:spring-core",
        ranges=(AffectedRange(tuple(RangeEvent(EventKind(kind), version) for kind, version in events)),),
    )
    return CompiledAffected(package, ParsedVersionCache())


def test_a_fixed_range_takes_pre_releases_of_the_fix() -> None:
    compiled = _maven_range(("introduced", "2.0-beta9"), ("fixed", "2.15.0"))
    affected = [
        "2.0-beta9",
        "2.0-SNAPSHOT",
        "2.0-rc1",
        "2.0.RC2",
        "2.0",
        "2.0.0.Final",
        "2.14.1",
        "2.15.0-rc1",
        "2.15.0.RC2",
    ]
    not_affected = ["2.0-alpha1", "2.0-beta8", "1.2.17", "2.15.0", "2.15.0.RELEASE", "2.15.0-sp1"]
    assert [v for v in affected if compiled.check(v) is None] == []
    assert [v for v in not_affected if compiled.check(v) is not None] == []


def test_last_affected_includes_its_release_spellings() -> None:
    compiled = _maven_range(("introduced", "5.3.0"), ("last_affected", "5.3.20"))
    for version in ["5.3.20", "5.3.20.RELEASE", "5.3.20-final", "5.3.20.0", "5.3.0.RELEASE", "5.3.19"]:
        assert compiled.check(version) is not None, version
    for version in ["5.3.21", "5.3.20-1", "5.3.20.1", "5.3.20-sp1", "5.2.99", "5.3.0-RC1"]:
        assert compiled.check(version) is None, version


def test_dotted_release_candidates_sort_before_hyphenated_ones() -> None:
    compiled = _maven_range(("introduced", "0"), ("fixed", "1.0.0-RC2"))
    assert compiled.check("1.0.0.RC1") is not None, "1.0.0.RC1 comes before the fixing 1.0.0-RC2"
    assert compiled.check("1.0.0-RC3") is None
