"""Public repositories (for any account, and anonymously when allowed; in process: the rule is the
permission service's), and secrets that never reach the server's log, whatever flows went through it
(a real server: its log is the point)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import shlex

import httpx
import pytest

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, AppFactory, MoorageFactory
from tests.support.accounts import Account, Server, create_access_key, create_user, http, iam_token, management

ADMIN = Account(ADMIN_USER, ADMIN_PASSWORD, ADMIN_USER)
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def push_small_image(server: Server, repository: str, tag: str = "v1") -> str:
    """A config-only image pushed over HTTP with the administrator's Basic credentials; its digest."""
    config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    with http(server, auth=(ADMIN_USER, ADMIN_PASSWORD)) as client:
        assert (
            client.post(
                f"/v2/{repository}/blobs/uploads/", params={"digest": config_digest}, content=config
            ).status_code
            == 201
        )
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "layers": [],
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": config_digest,
                    "size": len(config),
                },
            }
        ).encode()
        response = client.put(
            f"/v2/{repository}/manifests/{tag}", content=manifest, headers={"Content-Type": OCI_MANIFEST}
        )
        assert response.status_code == 201, response.text
        return response.headers["Docker-Content-Digest"]


def make_public(server: Server, namespace: str, repository: str) -> None:
    with management(server, iam_token(server, ADMIN)) as api:
        response = api.patch(f"/v2/manage/namespaces/{namespace}/repos/{repository}", json={"is_public": True})
    assert response.status_code in (200, 201, 204), response.text


@pytest.mark.parametrize("anonymous_pull", [False, True])
def test_public_repositories(app_moorage_factory: AppFactory, anonymous_pull: bool) -> None:
    server = app_moorage_factory(auth={"allow_anonymous_pull": anonymous_pull})
    push_small_image(server, "pub/open")
    push_small_image(server, "pub/closed")
    make_public(server, "pub", "open")
    outsider = create_user(server, "pub-outsider")
    with http(server, auth=(outsider.name, outsider.password)) as other, http(server) as nobody:
        # Another account: the public repository yes, the private one no.
        opened = other.get("/v2/pub/open/manifests/v1", headers={"Accept": OCI_MANIFEST})
        assert opened.status_code == 200
        assert other.get("/v2/pub/closed/manifests/v1").status_code == 403
        assert other.post("/v2/pub/open/blobs/uploads/").status_code == 403  # public is pull only
        # Nobody: only with the setting, only the public one, and through the token flow docker uses.
        anonymous = nobody.get("/v2/pub/open/manifests/v1")
        assert anonymous.status_code == (200 if anonymous_pull else 401)
        assert nobody.get("/v2/pub/closed/manifests/v1").status_code == 401
        token = nobody.get("/service/token", params={"scope": "repository:pub/open:pull"})
        assert token.status_code == (200 if anonymous_pull else 401)
        if anonymous_pull:
            bearer = {"Authorization": f"Bearer {token.json()['token']}"}
            assert nobody.get("/v2/pub/open/manifests/v1", headers=bearer).status_code == 200
            catalog = nobody.get("/v2/_catalog", headers=bearer)
            assert catalog.status_code in (200, 401)


def test_secrets_never_reach_the_log(moorage_factory: MoorageFactory) -> None:
    server = moorage_factory(env={"MOORAGE_ACCESS_LOG": "true", "MOORAGE_LOG_LEVEL": "debug"})
    base = server.base_url
    user = create_user(server, "logged-user", domain=ADMIN_USER, password="user-secret-Pw-123")
    secrets = [ADMIN_PASSWORD, user.password]
    token = iam_token(server, ADMIN)
    secrets.append(token)
    access, secret_key = create_access_key(server, ADMIN)
    secrets.append(secret_key)
    long_term = hmac.new(secret_key.encode(), access.encode(), hashlib.sha256).hexdigest()
    secrets.append(long_term)
    with management(server, token) as api:
        login = api.post("/v2/manage/utils/secret")
    command = shlex.split(login.headers["X-Swr-Dockerlogin"])
    temporary = command[command.index("-p") + 1]
    secrets.append(temporary)
    for creds in (
        (ADMIN_USER, ADMIN_PASSWORD),
        (f"local-1@{access}", long_term),
        (command[command.index("-u") + 1], temporary),
        (user.name, "wrong-" + user.password),
    ):
        response = httpx.get(f"{base}/service/token", params={"scope": "repository:logs/app:pull"}, auth=creds)
        if response.status_code == 200:
            secrets.append(response.json()["token"])
    httpx.get(
        f"{base}/v2/",
        headers={"Authorization": "Basic " + base64.b64encode(f"{ADMIN_USER}:{ADMIN_PASSWORD}".encode()).decode()},
    )
    httpx.post(
        f"{base}/v3/auth/tokens",
        json={
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {"name": user.name, "password": user.password, "domain": {"name": ADMIN_USER}}
                    },
                }
            }
        },
    )
    log = server.log()
    assert "authentication failed" in log  # the failure itself is logged...
    leaked = [s[:6] + "..." for s in secrets if s in log]
    assert not leaked, f"secrets found in the server log: {leaked}"  # ...no secret is
    assert '"status":' in log  # the access log was on
