"""Ids of database rows named in paths and queries (retentions, policies, executions, tasks): whole
numbers that fit PostgreSQL's ``bigint``, so a larger one is a clear 400 instead of a database error."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

ROW_ID_MAX = 2**63 - 1

RowId = Annotated[int, Path(ge=0, le=ROW_ID_MAX)]
"""A row id in a path."""
OptionalRowIdQuery = Annotated[int | None, Query(ge=0, le=ROW_ID_MAX)]
"""A row id in a query, optional."""
