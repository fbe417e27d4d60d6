"""The base of the Enterprise Edition and IAM response models.

A response model names the SDK's fields once, so a misspelt or missing field fails where the answer
is built (``extra="forbid"``: mypy's pydantic plugin checks the keyword arguments too) and
``/openapi.json`` describes the answer. Fields whose wire name is not a Python name
(``enableDomainName``, ``mediaType``, ``self``) carry it as their alias; FastAPI writes aliases.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ResponseModel(BaseModel):
    """An answer body, field for field as the official SDK's response class reads it."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
