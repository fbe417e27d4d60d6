"""The JSON bounds of the client: the nesting depth measured on the bytes agrees with the depth of
the parsed document (a simple recursive oracle), and ``load_json`` refuses what is too deep without
a RecursionError, however deep."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moorage.clients.errors import ImageTooLargeError
from moorage.clients.limits import ByteBudget, JsonTooDeep, load_json, nesting_depth

_SCALARS = st.none() | st.booleans() | st.integers() | st.text(alphabet=st.sampled_from('[]{}"\\ab,:'), max_size=8)
_DOCUMENTS = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4)
                          | st.dictionaries(st.text(alphabet=st.sampled_from('[]{}"\\k'), max_size=4), inner,
                                            max_size=4), max_leaves=40)


def oracle(value: Any) -> int:
    """Nesting depth by recursion over the parsed value."""
    if isinstance(value, list):
        return 1 + max((oracle(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((oracle(v) for v in value.values()), default=0)
    return 0


@settings(max_examples=300)
@given(_DOCUMENTS, st.booleans())
def test_depth_on_the_bytes_matches_the_parsed_depth(document: Any, indent: bool) -> None:
    raw = json.dumps(document, indent=1 if indent else None).encode()
    depth = oracle(document)
    assert nesting_depth(raw, 64) == depth
    assert nesting_depth(raw, max(depth - 1, 0)) == depth  # deeper than the limit: limit + 1


@pytest.mark.parametrize("depth", [64, 65, 1000, 200_000])
def test_too_deep_is_refused_without_recursion_error(depth: int) -> None:
    raw = b"[" * depth + b"]" * depth
    if depth <= 64:
        assert load_json(raw) == json.loads(raw)
    else:
        with pytest.raises(JsonTooDeep):
            load_json(raw)


def test_strings_with_brackets_do_not_count() -> None:
    assert load_json(b'{"a": "[[[[[[[[[[\\"[[[["}', max_depth=1) == {"a": '[[[[[[[[[["[[[['}


def test_byte_budget() -> None:
    budget = ByteBudget(10)
    budget.take(10)
    with pytest.raises(ImageTooLargeError):
        budget.take(1)
