"""Fuzzing the bounded JSON loader against ``json.loads`` as the oracle: the same value for every
document within the bound, ``JsonTooDeep`` exactly for the documents beyond it, and for garbage
only the errors a malformed document deserves (never ``RecursionError``)."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from moorage.domain.bounded_json import JsonTooDeep, exceeds_depth, loads
from tests.fuzz.budget import FUZZ

# Strings full of what the depth scan must see through: brackets, quotes, backslashes, escapes.
tricky_text = st.text(st.sampled_from(list('[]{}"\\/abc \u00e9\u2028\U0001f600\x00\n')), max_size=12)
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | tricky_text
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(tricky_text, inner, max_size=4), max_leaves=40
)


def depth(value: Any) -> int:
    """The oracle: nesting depth of a parsed value (``[]`` is 1)."""
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    return 0


@st.composite
def documents(draw: st.DrawFn) -> tuple[Any, str]:
    """A value, wrapped in a random number of extra levels, and one of its JSON spellings."""
    value = draw(values)
    for _ in range(draw(st.integers(0, 80))):
        value = draw(st.sampled_from([lambda v: [v], lambda v: {"k[": v}, lambda v: [1, v, "]"]]))(value)
    text = json.dumps(
        value,
        ensure_ascii=draw(st.booleans()),
        indent=draw(st.sampled_from([None, 0, 2])),
        separators=draw(st.sampled_from([None, (",", ":")])),
    )
    return value, text


@FUZZ
@given(documents(), st.integers(1, 100), st.sampled_from(["str", "utf-8", "utf-16", "utf-32"]))
@example((json.loads('[["]]]]"]]'), '[["]]]]"]]'), 1, "utf-8")
@example((json.loads('["\\\\", [[]]]'), '["\\\\", [[]]]'), 2, "utf-8")
def test_loads_agrees_with_json_loads(document: tuple[Any, str], bound: int, encoding: str) -> None:
    value, text = document
    raw: str | bytes = text if encoding == "str" else text.encode(encoding)
    if depth(value) > bound:
        with pytest.raises(JsonTooDeep):
            loads(raw, max_depth=bound)
    else:
        assert loads(raw, max_depth=bound) == json.loads(text)
    assert exceeds_depth(raw, bound) is (depth(value) > bound)


@FUZZ
@given(st.binary(max_size=2048) | st.text(st.sampled_from(list('[]{}",:\\ 0a')), max_size=4096), st.integers(1, 64))
def test_garbage_is_refused_as_malformed_json(raw: bytes | str, bound: int) -> None:
    try:
        parsed = json.loads(raw)
    except (ValueError, RecursionError):
        parsed = None
        oracle_ok = False
    else:
        oracle_ok = True
    try:
        result = loads(raw, max_depth=bound)
    except JsonTooDeep:
        assert not oracle_ok or depth(parsed) > bound  # never a false "too deep" for valid JSON
    except (ValueError, UnicodeDecodeError):
        assert not oracle_ok
    else:
        assert oracle_ok and result == parsed and depth(parsed) <= bound


@FUZZ
@given(documents(), st.binary(min_size=1, max_size=8), st.data())
def test_mutated_documents_never_crash(document: tuple[Any, str], insert: bytes, data: st.DataObject) -> None:
    raw = document[1].encode()
    at = data.draw(st.integers(0, len(raw)))
    mutated = raw[:at] + insert + raw[at:]
    assume(mutated != raw)
    with contextlib.suppress(ValueError, UnicodeDecodeError):
        loads(mutated, max_depth=data.draw(st.integers(1, 100)))


@pytest.mark.parametrize("depth_", [100_000, 1_000_000])
def test_extreme_depth_is_refused_not_recursed(depth_: int) -> None:
    for opening, closing in (("[", "]"), ('{"a":', "}")):
        with pytest.raises(JsonTooDeep):
            loads(opening * depth_ + "0" + closing * depth_, max_depth=64)
