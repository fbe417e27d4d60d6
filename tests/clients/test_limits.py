"""The client's JSON bounds: every answer goes through the domain's bounded loader with the depth of
``TransferLimits``, which refuses what is too deep without a RecursionError, however deep."""

from __future__ import annotations

import json

import pytest

from moorage.clients.errors import ImageTooLargeError
from moorage.clients.limits import ByteBudget, TransferLimits
from moorage.domain.bounded_json import JsonTooDeep, JsonTooLarge, loads


@pytest.mark.parametrize("depth", [64, 65, 1000, 200_000])
def test_too_deep_is_refused_without_recursion_error(depth: int) -> None:
    raw = b"[" * depth + b"]" * depth
    bound = TransferLimits().json_depth
    if depth <= bound:
        assert loads(raw, max_depth=bound) == json.loads(raw)
    else:
        with pytest.raises(JsonTooDeep):
            loads(raw, max_depth=bound)


def test_a_bound_past_the_recursion_limit_still_refuses_cleanly() -> None:
    raw = b"[" * 200_000 + b"]" * 200_000
    with pytest.raises(JsonTooDeep):
        loads(raw, max_depth=10**9)  # the measure lets it through; json.loads' RecursionError is mapped


def test_strings_with_brackets_do_not_count() -> None:
    assert loads(b'{"a": "[[[[[[[[[[\\"[[[["}', max_depth=1) == {"a": '[[[[[[[[[["[[[['}


def test_size_bound() -> None:
    assert loads(b"[1, 2]", max_bytes=6) == [1, 2]
    with pytest.raises(JsonTooLarge, match="7 bytes is larger than 6"):
        loads(b"[1, 23]", max_bytes=6)


def test_byte_budget() -> None:
    budget = ByteBudget(10)
    budget.take(10)
    with pytest.raises(ImageTooLargeError):
        budget.take(1)
