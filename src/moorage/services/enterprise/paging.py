"""The paging rules of the Enterprise Edition listings (as ListInstanceSignatureExecutionSubtasks
documents them): ``offset`` and ``limit`` go together, ``limit`` is 1-100 (default 10), ``offset`` is
0 or a multiple of ``limit``."""

from __future__ import annotations

from moorage.domain.enterprise import PageRequest
from moorage.domain.errors import Invalid

DEFAULT_LIMIT = 10
MAX_LIMIT = 100
MAX_OFFSET = 2**62
"""Beyond any listing's length, and within the database's 64-bit ``OFFSET``."""


def page_request(
    offset: int | None, limit: int | None, *, max_limit: int = MAX_LIMIT, default_limit: int = DEFAULT_LIMIT
) -> PageRequest:
    """Check ``offset``/``limit`` against the rules; ``Invalid`` (400) says which rule was broken."""
    if offset is not None and offset != 0 and limit is None:
        raise Invalid("offset and limit must be used together: give limit as well")
    size = default_limit if limit is None else limit
    start = 0 if offset is None else offset
    if not 1 <= size <= max_limit:
        raise Invalid(f"limit must be between 1 and {max_limit}, got {size}")
    if not 0 <= start <= MAX_OFFSET:
        raise Invalid(f"offset must be from 0 to {MAX_OFFSET}, got {start}")
    if start % size:
        raise Invalid(f"offset must be 0 or a multiple of limit ({size}), got {start}")
    return PageRequest(start, size)
