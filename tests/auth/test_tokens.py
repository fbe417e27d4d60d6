"""Signed tokens: each kind checks only with its own key and audience, expiry holds, tampering and
arbitrary input are refused with ``TokenError`` and nothing else."""

from __future__ import annotations

import base64
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moorage.auth.keys import MasterKey, SecretDecryptionError
from moorage.auth.tokens import RegistryGrant, TokenError, TokenSigner

KEY = MasterKey(b"k" * 32)
SIGNER = TokenSigner(KEY, registry_service="moorage")


def test_iam_token_round_trip_and_expiry() -> None:
    token, claims = SIGNER.issue_iam(user_id="u1", domain_id="d1", project_id="p1", ttl=60)
    assert SIGNER.verify_iam(token) == claims
    expired, _ = SIGNER.issue_iam(user_id="u1", domain_id="d1", project_id=None, ttl=-60)
    with pytest.raises(TokenError, match="expired"):
        SIGNER.verify_iam(expired)


def test_kinds_do_not_cross() -> None:
    iam, _ = SIGNER.issue_iam(user_id="u1", domain_id="d1", project_id=None, ttl=60)
    registry, _ = SIGNER.issue_registry(
        subject="u1", domain_id="d1", ttl=60, via="password", grants=[RegistryGrant("repository", "a/b", ("pull",))]
    )
    login, _ = SIGNER.issue_login(user_id="u1", ttl=60)
    for verify, foreign in (
        (SIGNER.verify_iam, registry),
        (SIGNER.verify_iam, login),
        (SIGNER.verify_registry, iam),
        (SIGNER.verify_registry, login),
        (SIGNER.verify_login, iam),
        (SIGNER.verify_login, registry),
    ):
        with pytest.raises(TokenError):
            verify(foreign)


def test_other_master_key_or_service_refuses() -> None:
    token, _ = SIGNER.issue_registry(subject="u1", domain_id="d1", grants=[], ttl=60, via="password")
    with pytest.raises(TokenError):
        TokenSigner(MasterKey(b"x" * 32), registry_service="moorage").verify_registry(token)
    with pytest.raises(TokenError):
        TokenSigner(KEY, registry_service="elsewhere").verify_registry(token)


def test_cached_registry_token_still_expires() -> None:
    signer = TokenSigner(KEY, registry_service="moorage")
    token, claims = signer.issue_registry(subject="u1", domain_id="d1", grants=[], ttl=1, via="password")
    assert signer.verify_registry(token) == claims  # now cached
    signer._registry_cache[token] = claims.__class__(
        claims.subject, claims.domain_id, claims.grants, int(time.time()) - 10, claims.via
    )
    with pytest.raises(TokenError, match="expired"):
        signer.verify_registry(token)


@settings(max_examples=300)
@given(st.text(max_size=600) | st.binary(max_size=400).map(lambda b: base64.urlsafe_b64encode(b).decode()))
def test_arbitrary_input_is_refused_cleanly(text: str) -> None:
    for verify in (SIGNER.verify_iam, SIGNER.verify_registry, SIGNER.verify_login):
        with pytest.raises(TokenError):
            verify(text)


@settings(max_examples=200)
@given(st.integers(min_value=0, max_value=2000), st.integers(min_value=0, max_value=255))
def test_any_single_byte_change_is_refused(position: int, value: int) -> None:
    token, _ = SIGNER.issue_iam(user_id="u1", domain_id="d1", project_id="p1", ttl=60)
    # Not the last character: its low bits are base64 padding, so a few other characters decode to
    # the very same signature bytes (the same token, written differently; nothing is forged).
    index = position % (len(token) - 1)

    changed = token[:index] + chr(value) + token[index + 1 :]
    if changed == token:
        return
    with pytest.raises(TokenError):
        SIGNER.verify_iam(changed)


def test_master_key_encryption_is_bound_to_its_context() -> None:
    sealed = KEY.encrypt("secret-key", context="access-key:AK1")
    assert KEY.decrypt(sealed, context="access-key:AK1") == "secret-key"
    with pytest.raises(SecretDecryptionError):
        KEY.decrypt(sealed, context="access-key:AK2")
    with pytest.raises(SecretDecryptionError):
        MasterKey(b"z" * 32).decrypt(sealed, context="access-key:AK1")
    assert "secret-key" not in sealed and "k" * 32 not in repr(KEY)
