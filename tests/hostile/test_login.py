"""Hostile logins: brute force under other spellings of one user and through every login route, forged
proxy headers, and tampered or misused refresh tokens. Each must be refused or counted, never let
through and never a 500."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import httpx
import pytest

from moorage.auth.keys import MasterKey
from moorage.auth.tokens import TokenSigner
from tests.conftest import AppFactory
from tests.support.accounts import Account, Server, create_user, http
from tests.support.inprocess import InProcessMoorage
from tests.support.servers import ServerProcess

ADMIN_DOMAIN = "admin"
FREE = 10
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def basic_token(server: Server, user: str, password: str, headers: dict[str, str] | None = None) -> int:
    with http(server) as client:
        return client.get("/service/token", auth=(user, password), headers=headers or {}).status_code


def post_form(server: Server, fields: dict[str, str]) -> httpx.Response:
    with http(server) as client:
        return client.post("/service/token", content=urlencode(fields), headers=FORM)


@pytest.fixture
def behind_proxy(app_moorage_factory: AppFactory) -> InProcessMoorage:
    """moorage in process, trusting 127.0.0.1 (the peer of its requests) as a proxy writing
    ``X-Forwarded-For`` (a 30 s first wait): the rules are the login throttle's and the address
    parser's, no client needs a socket."""
    return app_moorage_factory(trusted_proxies="127.0.0.1", auth={"login_backoff_seconds": 30})


# Brute force ------------------------------------------------------------------------------------------


def test_other_spellings_of_the_user_share_its_count(shared_moorage: ServerProcess) -> None:
    account = create_user(shared_moorage, "spelled", domain=ADMIN_DOMAIN)
    spellings = ["Spelled", "SPELLED", "spelled", "\uff53\uff50\uff45\uff4c\uff4c\uff45\uff44", "SpElLeD"]
    statuses = [basic_token(shared_moorage, spellings[i % len(spellings)], f"guess-{i}") for i in range(FREE)]
    assert statuses == [401] * FREE
    assert basic_token(shared_moorage, account.name, account.password) == 429


def test_spellings_that_count_apart_never_log_in(shared_moorage: ServerProcess) -> None:
    account = create_user(shared_moorage, "apart", domain=ADMIN_DOMAIN)
    for spelling in ("apart ", " apart", "apart\u200b", "apar\u0442", "apart" + "x" * 200, "apart\t"):
        status = basic_token(shared_moorage, spelling, account.password)
        assert status in (400, 401), (spelling, status)


def test_every_login_route_feeds_one_count(shared_moorage: ServerProcess) -> None:
    account = create_user(shared_moorage, "routes", domain=ADMIN_DOMAIN)
    base = shared_moorage.base_url
    attempts = [
        lambda i: basic_token(shared_moorage, account.name, f"get-{i}"),
        lambda i: (
            post_form(
                shared_moorage, {"grant_type": "password", "username": account.name, "password": f"post-{i}"}
            ).status_code
        ),
        lambda i: httpx.get(f"{base}/v2/", auth=(account.name, f"basic-{i}"), timeout=30).status_code,
        lambda i: (
            httpx.post(
                f"{base}/v3/auth/tokens",
                timeout=30,
                json={
                    "auth": {
                        "identity": {
                            "methods": ["password"],
                            "password": {
                                "user": {"name": account.name, "password": f"iam-{i}", "domain": {"name": ADMIN_DOMAIN}}
                            },
                        }
                    }
                },
            ).status_code
        ),
    ]
    statuses = [attempts[i % len(attempts)](i) for i in range(FREE)]
    assert statuses == [401] * FREE
    assert (
        post_form(
            shared_moorage, {"grant_type": "password", "username": account.name, "password": account.password}
        ).status_code
        == 429
    )


def test_a_parallel_burst_does_not_outrun_the_count(shared_moorage: ServerProcess) -> None:
    """Thirty wrong passwords sent at once: each attempt waits for the one before it from the same
    address to be counted, so the burst gets the free failures and a few doubling waits, not thirty."""
    account = create_user(shared_moorage, "burst", domain=ADMIN_DOMAIN)
    with ThreadPoolExecutor(max_workers=30) as pool:
        statuses = list(pool.map(lambda i: basic_token(shared_moorage, account.name, f"burst-{i}"), range(30)))
    assert statuses.count(401) + statuses.count(429) == 30
    assert FREE <= statuses.count(401) <= FREE + 4, statuses  # 1 s, 2 s, 4 s... waits pass while it lasts


# Forged proxy headers -----------------------------------------------------------------------------------

FORGED = [
    {"X-Forwarded-For": "198.51.100.1"},
    {"X-Forwarded-For": "198.51.100.2, 198.51.100.3"},
    {"Forwarded": "for=198.51.100.4"},
    {"X-Real-IP": "198.51.100.5"},
    {"True-Client-IP": "198.51.100.6"},
    {"CF-Connecting-IP": "198.51.100.7"},
    {"X-Forwarded-For": "::ffff:198.51.100.8"},
    {"X-Forwarded-For": "unknown"},
    {"X-Forwarded-For": "1" * 4000},
    {"Forwarded": 'for="[2001:db8::1]:80";by=127.0.0.1'},
]


def test_forged_headers_from_an_untrusted_peer_change_nothing(shared_moorage: ServerProcess) -> None:
    account = create_user(shared_moorage, "forger", domain=ADMIN_DOMAIN)
    statuses = [basic_token(shared_moorage, account.name, f"guess-{i}", FORGED[i]) for i in range(FREE)]
    assert statuses == [401] * FREE
    assert basic_token(shared_moorage, account.name, account.password, {"X-Forwarded-For": "203.0.113.1"}) == 429


def test_a_trusted_proxy_header_cannot_be_extended_or_replaced(behind_proxy: InProcessMoorage) -> None:
    account = create_user(behind_proxy, "proxied-forger", domain=ADMIN_DOMAIN)
    real = "198.51.100.50"
    # The proxy appends the real client; the client adds its own X-Forwarded-For on the left, and a
    # Forwarded header the proxy does not write: neither moves the count away from the real client.
    statuses = [
        basic_token(
            behind_proxy,
            account.name,
            f"guess-{i}",
            {"X-Forwarded-For": f"203.0.113.{i}, {real}", "Forwarded": f"for=203.0.113.{i}"},
        )
        for i in range(FREE)
    ]
    assert statuses == [401] * FREE
    assert basic_token(behind_proxy, account.name, account.password, {"X-Forwarded-For": real}) == 429


def test_an_ipv6_client_cannot_rotate_within_its_64(behind_proxy: InProcessMoorage) -> None:
    account = create_user(behind_proxy, "rotator", domain=ADMIN_DOMAIN)
    statuses = [
        basic_token(behind_proxy, account.name, f"guess-{i}", {"X-Forwarded-For": f"2001:db8:7:7::{i + 1:x}"})
        for i in range(FREE)
    ]
    assert statuses == [401] * FREE
    assert basic_token(behind_proxy, account.name, account.password, {"X-Forwarded-For": "2001:db8:7:7:ffff::1"}) == 429
    assert basic_token(behind_proxy, account.name, account.password, {"X-Forwarded-For": "2001:db8:7:8::1"}) == 200


# Refresh tokens ----------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _refresh(server: ServerProcess, token: str, **extra: str) -> httpx.Response:
    return post_form(server, {"grant_type": "refresh_token", "refresh_token": token, **extra})


def _server_signer(server: ServerProcess) -> TokenSigner:
    return TokenSigner(MasterKey.from_text((server.data_dir / "master.key").read_text()), registry_service="moorage")


def test_tampered_refresh_tokens_are_refused(shared_moorage: ServerProcess) -> None:
    victim = create_user(shared_moorage, "refresh-victim", domain=ADMIN_DOMAIN)
    attacker = create_user(shared_moorage, "refresh-attacker", domain=ADMIN_DOMAIN)
    token = post_form(
        shared_moorage,
        {"grant_type": "password", "username": attacker.name, "password": attacker.password, "access_type": "offline"},
    ).json()["refresh_token"]
    assert _refresh(shared_moorage, token).status_code == 200
    header, payload, signature = token.split(".")
    claims = json.loads(_unb64(payload))
    as_victim = _b64(json.dumps({**claims, "sub": victim.user_id}).encode())
    alg_none = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    forged = {
        "flipped signature": f"{header}.{payload}.{signature[:-2]}{'AA' if not signature.endswith('AA') else 'BB'}",
        "another subject": f"{header}.{as_victim}.{signature}",
        "alg none": f"{alg_none}.{as_victim}.",
        "no signature": f"{header}.{payload}.",
        "later expiry": f"{header}.{_b64(json.dumps({**claims, 'exp': claims['exp'] + 10**6}).encode())}.{signature}",
        "truncated": token[: len(token) // 2],
        "garbage": "not.a.token",
        "empty segments": "..",
    }
    for name, candidate in forged.items():
        response = _refresh(shared_moorage, candidate)
        assert response.status_code == 401, (name, response.status_code, response.text)
    assert _refresh(shared_moorage, "x" * 9000).status_code == 400  # over the field limit, not parsed


def test_tokens_of_other_kinds_are_no_refresh_tokens(shared_moorage: ServerProcess) -> None:
    account = create_user(shared_moorage, "refresh-kinds", domain=ADMIN_DOMAIN)
    answer = post_form(
        shared_moorage,
        {"grant_type": "password", "username": account.name, "password": account.password, "access_type": "offline"},
    ).json()
    access, refresh = answer["access_token"], answer["refresh_token"]
    assert _refresh(shared_moorage, access).status_code == 401  # an access token cannot refresh
    bearer = httpx.get(f"{shared_moorage.base_url}/v2/", headers={"Authorization": f"Bearer {refresh}"})
    assert bearer.status_code == 401  # a refresh token is no access token
    assert basic_token(shared_moorage, account.name, refresh) == 401  # nor a password
    # Signed with the server's own key but wrong in substance: another instance, an unknown binding,
    # expired, or for an unknown user.
    signer = _server_signer(shared_moorage)
    claims = signer.verify_refresh(refresh)
    crafted = {
        "other instance": signer.issue_refresh(
            user_id=claims.user_id, instance_id="other", client_id="", binding=claims.binding, ttl=600
        )[0],
        "unknown binding": signer.issue_refresh(
            user_id=claims.user_id, instance_id="default", client_id="", binding="magic:anything", ttl=600
        )[0],
        "stale password": signer.issue_refresh(
            user_id=claims.user_id, instance_id="default", client_id="", binding="password:" + "0" * 32, ttl=600
        )[0],
        "expired": signer.issue_refresh(
            user_id=claims.user_id, instance_id="default", client_id="", binding=claims.binding, ttl=-60
        )[0],
        "unknown user": signer.issue_refresh(
            user_id="0" * 32, instance_id="default", client_id="", binding=claims.binding, ttl=600
        )[0],
    }
    for name, candidate in crafted.items():
        assert _refresh(shared_moorage, candidate).status_code == 401, name
    other_service = TokenSigner(
        MasterKey.from_text((shared_moorage.data_dir / "master.key").read_text()), registry_service="elsewhere"
    )
    foreign, _ = other_service.issue_refresh(
        user_id=claims.user_id, instance_id="default", client_id="", binding=claims.binding, ttl=600
    )
    assert _refresh(shared_moorage, foreign).status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        b"grant_type=password&grant_type=refresh_token&username=admin&refresh_token=x",
        b"grant_type=password&username=admin&password=a&password=admin-password-1",
        b"grant_type=password&username=admin%00&password=admin-password-1",
        b"grant_type=password&username=" + b"%ff" * 10,
        b"\xff\xfe" * 100,
        b"&" * 5000,
        b"=" * 5000,
        b"grant_type=refresh_token&refresh_token=" + b"a." * 3000,
    ],
)
def test_malformed_forms_are_refused_cleanly(shared_moorage: ServerProcess, body: bytes) -> None:
    response = httpx.post(f"{shared_moorage.base_url}/service/token", content=body, headers=FORM, timeout=30)
    assert response.status_code in (400, 401, 413), response.text
    assert "token" not in response.json()


def test_a_refresh_token_needs_no_password_but_cannot_be_brute_forced(shared_moorage: ServerProcess) -> None:
    """A refresh grant involves no password, so a guessed refresh token is not a login attempt of the
    user: it costs no argon2 and it cannot lock the user out (the token cannot be guessed anyway)."""
    account = Account("refresh-lockout", "user-password-1", ADMIN_DOMAIN)
    create_user(shared_moorage, account.name, domain=ADMIN_DOMAIN)
    assert all(_refresh(shared_moorage, f"guess.{i}.x").status_code == 401 for i in range(FREE + 2))
    assert basic_token(shared_moorage, account.name, account.password) == 200
