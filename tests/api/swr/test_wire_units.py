"""The SWR API's small parsers and formats, checked against simple oracles with hypothesis: the
``filter`` syntax and listing parameters, share deadlines, keyset markers, report series and
accessory kinds. No server needed."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moorage.api.swr.listing import ListingRules, content_range, parse_filter, parse_listing
from moorage.api.swr.wire import decode_tag_marker, encode_tag_marker, format_deadline, parse_deadline
from moorage.domain.errors import Invalid
from moorage.domain.management import TagKey, UsageSnapshot, UsageTotals
from moorage.services.account import report_points
from moorage.services.tag_management import accessory_kind, tag_scheme_target

KEYS = frozenset({"namespace", "name", "tag", "offset", "limit", "order_column", "order_type"})
RULES = ListingRules(
    keys=frozenset({"namespace", "name", "tag"}),
    order_columns={"updated_at": "updated_at", "name": "name"},
    default_order=("updated_at", True),
    default_limit=100,
    max_limit=1000,
    offset_multiple=True,
)
values = st.text(st.characters(blacklist_characters="|", blacklist_categories=("Cs",)), max_size=20)


@given(st.dictionaries(st.sampled_from(sorted(KEYS)), values, max_size=len(KEYS)))
def test_filter_round_trips(fields: dict[str, str]) -> None:
    raw = "|".join(f"{k}::{v}" for k, v in fields.items())
    assert parse_filter(raw, allowed=KEYS) == fields


@given(st.text(max_size=40))
def test_filter_parser_never_crashes(raw: str) -> None:
    try:
        parsed = parse_filter(raw, allowed=KEYS)
    except Invalid as exc:
        assert exc.reason == "invalid_filter"
    else:
        assert set(parsed) <= KEYS


@pytest.mark.parametrize("raw", ["colour::red", "limit:5", "limit::1|limit::2", "::x", "x" * 2000])
def test_bad_filters_are_refused(raw: str) -> None:
    with pytest.raises(Invalid) as caught:
        parse_filter(raw, allowed=KEYS)
    assert caught.value.reason == "invalid_filter"


@given(
    limit=st.integers(1, 1000),
    page=st.integers(0, 10**6),
    order=st.sampled_from(["asc", "desc"]),
    column=st.sampled_from(["updated_at", "name"]),
    name=st.text("abc-", max_size=5),
)
def test_both_spellings_mean_the_same(limit: int, page: int, order: str, column: str, name: str) -> None:
    plain = {
        "limit": str(limit),
        "offset": str(page * limit),
        "order_column": column,
        "order_type": order,
        "name": name,
    }
    joined = "|".join(f"{k}::{v}" for k, v in plain.items())
    assert parse_listing(plain, None, RULES) == parse_listing({}, joined, RULES)
    listing = parse_listing(plain, None, RULES)
    assert (listing.limit, listing.offset, listing.descending) == (limit, page * limit, order == "desc")
    assert listing.fields == ({"name": name} if name else {})


@given(limit=st.integers(2, 1000), offset=st.integers(1, 10**6))
def test_offsets_must_be_multiples_of_the_limit(limit: int, offset: int) -> None:
    plain = {"limit": str(limit), "offset": str(offset)}
    if offset % limit:
        with pytest.raises(Invalid) as caught:
            parse_listing(plain, None, RULES)
        assert caught.value.reason == "invalid_page_size"
    else:
        assert parse_listing(plain, None, RULES).offset == offset


@pytest.mark.parametrize(
    "plain",
    [{"limit": "1001"}, {"limit": "0"}, {"limit": "1e3"}, {"offset": "-5"}, {"limit": "٣"}, {"offset": "9" * 30}],
)
def test_page_sizes_out_of_range_are_refused(plain: dict[str, str]) -> None:
    with pytest.raises(Invalid) as caught:
        parse_listing(plain, None, RULES)
    assert caught.value.reason == "invalid_page_size"


def test_defaults_and_content_range() -> None:
    listing = parse_listing({"limit": None, "filter": None}, "", RULES)
    assert (listing.offset, listing.limit, listing.order_column, listing.descending) == (0, 100, "updated_at", True)
    assert parse_listing({}, "namespace::x|name::y", RULES).fields == {"namespace": "x", "name": "y"}
    assert parse_listing({"namespace": "ignored"}, "name::y", RULES).fields == {"name": "y"}  # filter wins
    assert content_range(20, 7, 27) == "20-7/27"


@given(st.integers(0, 253402300799999))
def test_deadlines_round_trip(epoch_ms: int) -> None:
    assert parse_deadline(format_deadline(epoch_ms)) == epoch_ms


def test_deadline_forms() -> None:
    assert parse_deadline("forever") is None and parse_deadline(" Forever ") is None
    assert format_deadline(None) == "forever"
    assert parse_deadline("2021-10-01T16:00:00.000Z") == parse_deadline("2021-10-01T16:00:00Z") == 1633104000000
    assert parse_deadline("2021-10-01T18:00:00+02:00") == 1633104000000
    assert parse_deadline("2021-10-01T16:00:00") == 1633104000000  # no zone: UTC
    assert parse_deadline("2021-10-01") == parse_deadline("2021-10-02T00:00:00Z")  # the whole day
    assert parse_deadline("2021-10-01T16:00:00.123456789Z") == 1633104000123
    assert format_deadline(1633104000000) == "2021-10-01T16:00:00Z"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "tomorrow",
        "2021-13-01",
        "2021-10-01T25:00:00Z",
        "1969-12-31T23:59:59Z",
        "9999-12-31",
        "2021-10-01T16:00:00Zjunk",
    ],
)
def test_bad_deadlines_are_refused(text: str) -> None:
    with pytest.raises(Invalid) as caught:
        parse_deadline(text)
    assert caught.value.reason == "invalid_deadline"


@given(
    st.one_of(st.integers(0, 2**62), st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}", fullmatch=True)),
    st.integers(1, 2**62),
)
def test_markers_round_trip(value: int | str, tag_id: int) -> None:
    key = TagKey(value, tag_id)
    assert decode_tag_marker(encode_tag_marker(key), by_name=isinstance(value, str)) == key


@pytest.mark.parametrize(
    ("marker", "by_name"),
    [("", False), ("12", False), ("a~1", False), ("5~x", False), ("~1", True), ("x" * 200 + "~1", True)],
)
def test_bad_markers_are_refused(marker: str, by_name: bool) -> None:
    with pytest.raises(Invalid):
        decode_tag_marker(marker, by_name=by_name)


def _totals(n: int) -> UsageTotals:
    return UsageTotals(n, n, n, n, n, n)


@given(st.dictionaries(st.integers(-60, 0), st.integers(0, 10**9), max_size=20))
def test_daily_reports_carry_the_last_snapshot_forward(readings: dict[int, int]) -> None:
    today = datetime.date(2026, 3, 10)
    snapshots = [
        UsageSnapshot((today + datetime.timedelta(days=d)).isoformat(), _totals(v)) for d, v in sorted(readings.items())
    ]
    points = report_points(snapshots, resource="image", frequency="daily", today=today)
    assert len(points) == 30 and points[-1].date == today.isoformat()
    for point in points:
        earlier = [s for s in snapshots if s.day <= point.date]
        assert point.value == (earlier[-1].totals.images if earlier else 0.0)


def test_monthly_reports_take_each_months_last_value() -> None:
    today = datetime.date(2026, 3, 10)
    snapshots = [UsageSnapshot("2025-12-31", _totals(5)), UsageSnapshot("2026-02-03", _totals(9))]
    points = report_points(snapshots, resource="storage", frequency="monthly", today=today)
    assert [p.date for p in points][-4:] == ["2025-12", "2026-01", "2026-02", "2026-03"]
    assert [p.value for p in points][-4:] == [5.0, 5.0, 9.0, 9.0]
    assert len(points) == 12 and points[0].value == 0.0


def test_accessory_kinds() -> None:
    digest = "sha256:" + "ab" * 32
    assert accessory_kind("application/vnd.dev.cosign.artifact.sig.v1+json") == "signature.cosign"
    assert accessory_kind("application/vnd.cncf.notary.signature") == "signature.notation"
    assert accessory_kind("application/vnd.cyclonedx+json") == "sbom"
    assert accessory_kind("application/vnd.in-toto+json") == "attestation"
    assert accessory_kind("application/vnd.oci.image.config.v1+json", "sha256-" + "ab" * 32 + ".att") == "attestation"
    assert accessory_kind("application/vnd.oci.image.config.v1+json", "latest") == "other"
    assert tag_scheme_target("sha256-" + "ab" * 32 + ".sig") == digest
    assert tag_scheme_target("sha256-abc.sig") is None and tag_scheme_target("v1") is None
