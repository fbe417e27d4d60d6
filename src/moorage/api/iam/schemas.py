"""Request bodies of the IAM routes (pydantic at the edge)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Named(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str | None = Field(default=None, max_length=64)
    name: str | None = Field(default=None, max_length=64)


class PasswordUser(BaseModel):
    """``auth.identity.password.user``."""

    model_config = ConfigDict(extra="ignore")
    name: str | None = Field(default=None, max_length=64)
    id: str | None = Field(default=None, max_length=64)
    password: str = Field(max_length=1024)
    domain: _Named | None = None


class PasswordMethod(BaseModel):
    """``auth.identity.password``."""

    user: PasswordUser


class Identity(BaseModel):
    """``auth.identity``."""

    model_config = ConfigDict(extra="ignore")
    methods: list[str]
    password: PasswordMethod | None = None


class Scope(BaseModel):
    """``auth.scope``: a project (by id or name) or a domain."""

    model_config = ConfigDict(extra="ignore")
    project: _Named | None = None
    domain: _Named | None = None


class Auth(BaseModel):
    """``auth``."""

    identity: Identity
    scope: Scope | None = None


class TokenRequest(BaseModel):
    """``POST /v3/auth/tokens``."""

    auth: Auth
