"""``/service/token`` over real HTTP: the OAuth2 POST form (password and refresh-token grants) with form
bodies as containerd, BuildKit and docker send them, ``offline_token`` on GET, refresh tokens that
stop working with their user or credential, and the catalog grant of a token asked without a scope."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import update

from moorage.metadata.database import Database
from moorage.metadata.tables import users
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.support.accounts import (
    Account,
    create_access_key,
    create_user,
    iam_token,
    long_term_login,
    management,
)
from tests.support.servers import ServerProcess

ADMIN = Account(ADMIN_USER, ADMIN_PASSWORD, ADMIN_USER)
FORM = "application/x-www-form-urlencoded"


def post_token(server: ServerProcess, fields: list[tuple[str, str]] | dict[str, str]) -> httpx.Response:
    """``POST /service/token`` with an urlencoded form, as containerd sends it."""
    return httpx.post(
        f"{server.base_url}/service/token",
        content=urlencode(fields),
        timeout=30,
        headers={"Content-Type": f"{FORM}; charset=utf-8"},
    )


def password_form(
    account: Account,
    *scopes: str,
    offline: bool = False,
    client_id: str = "containerd-client",
) -> list[tuple[str, str]]:
    fields = [
        ("grant_type", "password"),
        ("username", account.name),
        ("password", account.password),
        ("service", "moorage"),
        ("client_id", client_id),
        *(("scope", s) for s in scopes),
    ]
    if offline:
        fields.append(("access_type", "offline"))
    return fields


def bearer_get(server: ServerProcess, path: str, token: str) -> httpx.Response:
    return httpx.get(f"{server.base_url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30)


@pytest.fixture
def database(shared_moorage: ServerProcess) -> Iterator[Database]:
    """The server's own database (to disable a user as an operator would)."""
    db = Database(shared_moorage.env["MOORAGE_DATABASE_URL"])
    yield db
    db.dispose()


def test_password_grant_answers_the_oauth_shape(shared_moorage: ServerProcess) -> None:
    response = post_token(
        shared_moorage,
        password_form(
            ADMIN, "repository:oauth/app:pull,push", "repository:oauth/base:pull registry:catalog:*", offline=True
        ),
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"token", "access_token", "expires_in", "issued_at", "scope", "refresh_token"}
    assert body["token"] == body["access_token"] and body["expires_in"] == 900
    issued = datetime.datetime.fromisoformat(body["issued_at"].replace("Z", "+00:00"))
    assert abs((datetime.datetime.now(datetime.UTC) - issued).total_seconds()) < 60
    assert body["scope"].split() == [
        "repository:oauth/app:pull,push",
        "repository:oauth/base:pull",
        "registry:catalog:*",
    ]
    # The access token works for its scope: the missing repository is unknown, not forbidden.
    tags = bearer_get(shared_moorage, "/v2/oauth/app/tags/list", body["access_token"])
    assert tags.status_code == 404 and tags.json()["errors"][0]["code"] == "NAME_UNKNOWN"
    online = post_token(shared_moorage, password_form(ADMIN, "repository:oauth/app:pull")).json()
    assert "refresh_token" not in online


def test_refresh_grant_issues_access_tokens_without_the_password(shared_moorage: ServerProcess) -> None:
    account = create_user(shared_moorage, "refresher", domain=ADMIN_USER)
    refresh = post_token(shared_moorage, password_form(account, offline=True)).json()["refresh_token"]
    again = post_token(
        shared_moorage,
        [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("service", "moorage"),
            ("client_id", "containerd-client"),
            ("scope", "repository:refresher/app:pull"),
        ],
    )
    assert again.status_code == 200, again.text
    assert "refresh_token" not in again.json()  # the client keeps the one it has
    assert again.json()["scope"] == ""  # a user without rights on it gets the token, with nothing in it
    assert bearer_get(shared_moorage, "/v2/", again.json()["access_token"]).status_code == 200
    rotated = post_token(
        shared_moorage,
        {
            "grant_type": "refresh_token",
            "refresh_token": refresh,
            "access_type": "offline",
            "client_id": "containerd-client",
        },
    )
    assert rotated.status_code == 200 and rotated.json()["refresh_token"] != refresh
    # Not bound to the client_id, which a public client names itself (tests/auth/test_refresh_clients.py).
    renamed = post_token(
        shared_moorage, {"grant_type": "refresh_token", "refresh_token": refresh, "client_id": "registry-client"}
    )
    assert renamed.status_code == 200


def test_get_with_offline_token_returns_a_refresh_token(shared_moorage: ServerProcess) -> None:
    base = shared_moorage.base_url
    params = {"service": "moorage", "client_id": "docker", "offline_token": "true"}
    body = httpx.get(f"{base}/service/token", params=params, auth=(ADMIN_USER, ADMIN_PASSWORD)).json()
    assert body["refresh_token"] and "scope" not in body
    # docker then logs in with the refresh token by POST (its identity token), as the daemon does.
    refreshed = post_token(
        shared_moorage,
        {
            "grant_type": "refresh_token",
            "refresh_token": body["refresh_token"],
            "client_id": "docker",
            "service": "moorage",
            "scope": "repository:offline/app:pull",
        },
    )
    assert refreshed.status_code == 200
    plain = httpx.get(f"{base}/service/token", params={"service": "moorage"}, auth=(ADMIN_USER, ADMIN_PASSWORD))
    assert "refresh_token" not in plain.json()
    anonymous = httpx.get(f"{base}/service/token", params=params)
    assert anonymous.status_code == 401


def refresh_works(server: ServerProcess, token: str) -> int:
    return post_token(server, {"grant_type": "refresh_token", "refresh_token": token}).status_code


def test_refresh_tokens_die_with_their_user(shared_moorage: ServerProcess, database: Database) -> None:
    disabled = create_user(shared_moorage, "refresh-disabled", domain=ADMIN_USER)
    deleted = create_user(shared_moorage, "refresh-deleted", domain=ADMIN_USER)
    tokens = {
        a.name: post_token(shared_moorage, password_form(a, offline=True)).json()["refresh_token"]
        for a in (disabled, deleted)
    }
    assert refresh_works(shared_moorage, tokens[disabled.name]) == 200
    database.run_write(
        lambda conn: conn.execute(update(users).where(users.c.id == disabled.user_id).values(enabled=False))
    )
    assert refresh_works(shared_moorage, tokens[disabled.name]) == 401  # at once: no cache on this path
    with management(shared_moorage, iam_token(shared_moorage, ADMIN)) as api:
        assert api.delete(f"/v3/users/{deleted.user_id}").status_code == 204
    assert refresh_works(shared_moorage, tokens[deleted.name]) == 401


def test_a_new_password_revokes_refresh_tokens(shared_moorage: ServerProcess, database: Database) -> None:
    account = create_user(shared_moorage, "refresh-repassword", domain=ADMIN_USER)
    token = post_token(shared_moorage, password_form(account, offline=True)).json()["refresh_token"]
    assert refresh_works(shared_moorage, token) == 200
    from moorage.auth.passwords import PasswordHashing

    new_hash = PasswordHashing().hash("another-password-2")
    database.run_write(
        lambda conn: conn.execute(update(users).where(users.c.id == account.user_id).values(password_hash=new_hash))
    )
    assert refresh_works(shared_moorage, token) == 401


def test_refresh_tokens_of_an_access_key_die_with_the_key(shared_moorage: ServerProcess) -> None:
    account = create_user(shared_moorage, "refresh-keys", domain=ADMIN_USER)
    access, secret = create_access_key(shared_moorage, account)
    user, password = long_term_login(access, secret)
    token = post_token(shared_moorage, password_form(Account(user, password, ""), offline=True)).json()["refresh_token"]
    assert refresh_works(shared_moorage, token) == 200
    with management(shared_moorage, iam_token(shared_moorage, account)) as api:
        disabled = api.put(f"/v3.0/OS-CREDENTIAL/credentials/{access}", json={"credential": {"status": "inactive"}})
        assert disabled.status_code == 200, disabled.text
    assert refresh_works(shared_moorage, token) == 401


@pytest.mark.parametrize(
    ("fields", "content_type", "status"),
    [
        ({"grant_type": "password", "username": ADMIN_USER, "password": "wrong"}, FORM, 401),
        ({"grant_type": "authorization_code", "code": "x"}, FORM, 400),
        ({"grant_type": "password", "username": ADMIN_USER, "password": ADMIN_PASSWORD, "service": "other"}, FORM, 400),
        ({"grant_type": "refresh_token", "refresh_token": "not-a-token"}, FORM, 401),
        ({"grant_type": "password", "username": ADMIN_USER, "password": ADMIN_PASSWORD}, "application/json", 400),
        (
            {"grant_type": "password", "username": ADMIN_USER, "password": ADMIN_PASSWORD},
            "multipart/form-data; b=x",
            400,
        ),
    ],
)
def test_bad_token_requests(
    shared_moorage: ServerProcess, fields: dict[str, str], content_type: str, status: int
) -> None:
    response = httpx.post(
        f"{shared_moorage.base_url}/service/token", content=urlencode(fields), headers={"Content-Type": content_type}
    )
    assert response.status_code == status, response.text
    assert response.json()["errors"][0]["message"]
    assert "token" not in response.json()


def test_oversized_bodies_are_refused_before_they_are_read(shared_moorage: ServerProcess) -> None:
    url = f"{shared_moorage.base_url}/service/token"
    declared = httpx.post(
        url, content=b"grant_type=password&username=a&password=" + b"x" * 70_000, headers={"Content-Type": FORM}
    )
    assert declared.status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
        yield b"grant_type=password&username=a&password="
        for _ in range(100):
            yield b"x" * 1024

    streamed = httpx.post(url, content=chunks(), headers={"Content-Type": FORM})
    assert streamed.status_code == 413
    assert (
        httpx.post(
            url, content=b"grant_type=password&username=" + json.dumps("x").encode(), headers={"Content-Type": FORM}
        ).status_code
        == 401
    )  # the server still answers


def test_a_token_without_scope_lists_only_what_its_holder_reads(shared_moorage: ServerProcess) -> None:
    base = shared_moorage.base_url
    admin_token = httpx.get(
        f"{base}/service/token",
        params={"scope": "repository:scopeless/app:push,pull"},
        auth=(ADMIN_USER, ADMIN_PASSWORD),
    ).json()["token"]
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.empty.v1+json",
            "size": 2,
            "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
        },
        "layers": [],
    }
    headers = {"Authorization": f"Bearer {admin_token}"}
    assert (
        httpx.post(
            f"{base}/v2/scopeless/app/blobs/uploads/?digest={manifest['config']['digest']}",  # type: ignore[index]
            content=b"{}",
            headers={**headers, "Content-Type": "application/octet-stream"},
        ).status_code
        == 201
    )
    assert (
        httpx.put(
            f"{base}/v2/scopeless/app/manifests/v1",
            content=json.dumps(manifest),
            headers={**headers, "Content-Type": manifest["mediaType"]},
        ).status_code
        == 201
    )  # type: ignore[dict-item]
    outsider = create_user(shared_moorage, "scopeless-outsider")
    for account, sees in ((ADMIN, True), (outsider, False)):
        token = httpx.get(
            f"{base}/service/token", params={"service": "moorage"}, auth=(account.name, account.password)
        ).json()["token"]
        catalog = bearer_get(shared_moorage, "/v2/_catalog", token)
        assert catalog.status_code == 200, catalog.text
        assert ("scopeless/app" in catalog.json()["repositories"]) is sees
        # The catalog grant is all it has: no repository is readable with it.
        assert bearer_get(shared_moorage, "/v2/scopeless/app/tags/list", token).status_code in (401, 403)
