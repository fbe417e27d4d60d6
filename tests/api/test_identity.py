"""Identity end to end: IAM tokens, docker logins of every kind through skopeo, and who may do what."""

from __future__ import annotations

import base64
import shlex
import time
from pathlib import Path

import httpx
import pytest

from moorage.auth.keys import MasterKey
from moorage.auth.tokens import TokenSigner
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.support import skopeo
from tests.support.accounts import (
    Account,
    create_user,
    iam_token,
    long_term_login,
    management,
)
from tests.support.ocilayout import image, write_layout
from tests.support.servers import ServerProcess

ADMIN = Account(ADMIN_USER, ADMIN_PASSWORD, ADMIN_USER)


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small two-layer image in an OCI layout, tag ``v1``."""
    img = image([{"etc/greeting": b"hello\n"}, {"usr/share/doc/readme": b"moorage test image\n"}])
    return write_layout(tmp_path_factory.mktemp("layout") / "img", {"v1": img})


def test_registry_challenges_anonymous_callers(shared_moorage: ServerProcess) -> None:
    response = httpx.get(f"{shared_moorage.base_url}/v2/")
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert f'realm="{shared_moorage.base_url}/service/token"' in challenge
    assert 'service="moorage"' in challenge
    assert response.json()["errors"][0]["code"] == "UNAUTHORIZED"
    scoped = httpx.get(f"{shared_moorage.base_url}/v2/team/app/tags/list")
    assert 'scope="repository:team/app:pull"' in scoped.headers["WWW-Authenticate"]


def test_token_endpoint_grants_only_what_the_caller_holds(shared_moorage: ServerProcess) -> None:
    base = shared_moorage.base_url
    ok = httpx.get(
        f"{base}/service/token",
        params={"service": "moorage", "scope": "repository:tok/app:pull,push"},
        auth=(ADMIN_USER, ADMIN_PASSWORD),
    )
    assert ok.status_code == 200
    token = ok.json()["token"]
    assert ok.json()["access_token"] == token and ok.json()["expires_in"] > 0
    assert httpx.get(f"{base}/v2/", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    bad = httpx.get(
        f"{base}/service/token", params={"scope": "repository:tok/app:pull"}, auth=(ADMIN_USER, "wrong-password")
    )
    assert bad.status_code == 401
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert httpx.get(f"{base}/v2/", headers={"Authorization": f"Bearer {forged}"}).status_code == 401


def test_iam_token_lifecycle(shared_moorage: ServerProcess) -> None:
    base = shared_moorage.base_url
    token = iam_token(shared_moorage, ADMIN)
    with management(shared_moorage, token) as api:
        assert api.get("/v2/manage/namespaces").status_code == 200
        checked = api.get("/v3/auth/tokens", headers={"X-Subject-Token": token})
        assert checked.status_code == 200
        body = checked.json()["token"]
        assert body["user"]["name"] == ADMIN_USER and body["project"]["name"] == "local-1"
        assert body["methods"] == ["password"] and body["expires_at"].endswith("Z")
        assert api.delete("/v3/auth/tokens", headers={"X-Subject-Token": token}).status_code == 204
        refused = api.get("/v2/manage/namespaces")
    assert refused.status_code == 401
    assert refused.json()["error_code"] == "SVCSTG.SWR.4010000" == refused.json()["errorCode"]
    assert "X-Request-Id" in refused.headers
    assert httpx.get(f"{base}/v2/manage/namespaces", headers={"X-Auth-Token": "not-a-token"}).status_code == 401


def test_expired_token_is_refused(shared_moorage: ServerProcess) -> None:
    key = MasterKey.from_text((shared_moorage.data_dir / "master.key").read_text())
    valid = iam_token(shared_moorage, ADMIN)
    claims = TokenSigner(key, registry_service="moorage").verify_iam(valid)
    expired, _ = TokenSigner(key, registry_service="moorage").issue_iam(
        user_id=claims.user_id, domain_id=claims.domain_id, project_id=claims.project_id, ttl=-60
    )
    response = httpx.get(f"{shared_moorage.base_url}/v2/manage/namespaces", headers={"X-Auth-Token": expired})
    assert response.status_code == 401
    assert "expired" in response.json()["error_msg"]


def test_wrong_password_is_rate_limited(shared_moorage: ServerProcess) -> None:
    account = create_user(shared_moorage, "limited")

    def body(password: str) -> dict[str, object]:
        return {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {"name": account.name, "password": password, "domain": {"name": account.domain}}
                    },
                }
            }
        }

    statuses = [
        httpx.post(f"{shared_moorage.base_url}/v3/auth/tokens", json=body(f"wrong-{i}")).status_code for i in range(10)
    ]
    assert statuses == [401] * 10
    # The next attempt from this address waits (1 s after the tenth failure), the right password too.
    limited = httpx.post(f"{shared_moorage.base_url}/v3/auth/tokens", json=body(account.password))
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert "password" not in shared_moorage.log().replace("wrong user name or password", "")


@pytest.mark.e2e
def test_skopeo_with_password_long_term_and_temporary_logins(
    shared_moorage: ServerProcess, layout: Path, tmp_path: Path, shared_admin_keys: tuple[str, str]
) -> None:
    host = shared_moorage.address
    skopeo.push(layout, "v1", f"{host}/logins/app:password", creds=(ADMIN_USER, ADMIN_PASSWORD))

    access, secret = shared_admin_keys
    long_term = long_term_login(access, secret)
    skopeo.push(layout, "v1", f"{host}/logins/app:long-term", creds=long_term)
    skopeo.pull(f"{host}/logins/app:password", tmp_path / "out1", "x", creds=long_term)
    wrong = (long_term[0], "0" * 64)
    assert skopeo.pull(f"{host}/logins/app:password", tmp_path / "out2", "x", creds=wrong, check=False).returncode

    with management(shared_moorage, iam_token(shared_moorage, ADMIN)) as api:
        secret_response = api.post("/v2/manage/utils/secret", params={"projectname": "local-1"})
    assert secret_response.status_code == 200
    command = shlex.split(secret_response.headers["X-Swr-Dockerlogin"])
    assert command[:2] == ["docker", "login"] and command[-1] == host
    user, password = command[command.index("-u") + 1], command[command.index("-p") + 1]
    auths = secret_response.json()["auths"][host]["auth"]
    assert base64.b64decode(auths).decode() == f"{user}:{password}"
    assert user.startswith("local-1@")
    assert time.strptime(secret_response.headers["X-Swr-Expireat"], "%Y-%m-%d %H:%M:%S")
    skopeo.push(layout, "v1", f"{host}/logins/app:temporary", creds=(user, password))
    digest = skopeo.inspect_raw(f"{host}/logins/app:temporary", creds=(user, password))
    assert digest["schemaVersion"] == 2


@pytest.mark.e2e
def test_read_only_user_pulls_but_cannot_push(shared_moorage: ServerProcess, layout: Path, tmp_path: Path) -> None:
    host = shared_moorage.address
    admin_creds = (ADMIN_USER, ADMIN_PASSWORD)
    skopeo.push(layout, "v1", f"{host}/readers/app:v1", creds=admin_creds)
    reader = create_user(shared_moorage, "reader", domain=ADMIN_USER)
    reader_creds = (reader.name, reader.password)
    # No grant yet: nothing.
    assert skopeo.pull(f"{host}/readers/app:v1", tmp_path / "none", "x", creds=reader_creds, check=False).returncode
    with management(shared_moorage, iam_token(shared_moorage, ADMIN)) as api:
        granted = api.post(
            "/v2/manage/namespaces/readers/access",
            json=[{"user_id": reader.user_id, "user_name": reader.name, "auth": 1}],
        )
        assert granted.status_code == 201, granted.text
    skopeo.pull(f"{host}/readers/app:v1", tmp_path / "pulled", "x", creds=reader_creds)
    refused = skopeo.push(layout, "v1", f"{host}/readers/app:v2", creds=reader_creds, check=False)
    assert refused.returncode != 0
    direct = httpx.post(f"{shared_moorage.base_url}/v2/readers/app/blobs/uploads/", auth=reader_creds)
    assert direct.status_code == 403 and direct.json()["errors"][0]["code"] == "DENIED"


@pytest.mark.e2e
def test_other_domain_can_do_nothing_and_learns_nothing(
    shared_moorage: ServerProcess, layout: Path, tmp_path: Path
) -> None:
    host, base = shared_moorage.address, shared_moorage.base_url
    skopeo.push(layout, "v1", f"{host}/private/app:v1", creds=(ADMIN_USER, ADMIN_PASSWORD))
    outsider = create_user(shared_moorage, "outsider")
    creds = (outsider.name, outsider.password)
    assert skopeo.pull(f"{host}/private/app:v1", tmp_path / "o", "x", creds=creds, check=False).returncode
    assert skopeo.push(layout, "v1", f"{host}/private/app:v2", creds=creds, check=False).returncode
    existing = httpx.get(f"{base}/v2/private/app/tags/list", auth=creds)
    missing = httpx.get(f"{base}/v2/private/nothing-here/tags/list", auth=creds)
    assert existing.status_code == missing.status_code == 403
    assert existing.json()["errors"][0]["code"] == missing.json()["errors"][0]["code"] == "DENIED"
    catalog = httpx.get(f"{base}/v2/_catalog", auth=creds).json()["repositories"]
    assert "private/app" not in catalog
    with management(shared_moorage, iam_token(shared_moorage, outsider)) as api:
        shown = api.get("/v2/manage/namespaces/private")
        absent = api.get("/v2/manage/namespaces/no-such-org")
        listed = api.get("/v2/manage/namespaces").json()["namespaces"]
    assert shown.status_code == absent.status_code == 404
    assert shown.json()["error_code"] == absent.json()["error_code"]
    assert all(n["name"] != "private" for n in listed)
