"""A refresh token works under whatever ``client_id`` its holder sends, as docker needs: ``docker
login`` (the daemon) asks for one with ``client_id=docker&offline_token=true`` and stores it as the
identity token, then ``docker manifest create/push`` (the CLI) trades it by the OAuth2 POST form as
``client_id=registry-client``. Refusing the second name broke every ``docker manifest`` command."""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
import pytest

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.support.servers import ServerProcess


@pytest.mark.parametrize("shared_moorage", ["sqlite"], indirect=True)
def test_dockerd_refresh_token_serves_the_docker_cli(shared_moorage: ServerProcess) -> None:
    base = shared_moorage.base_url
    login = httpx.get(
        f"{base}/service/token",
        auth=(ADMIN_USER, ADMIN_PASSWORD),
        timeout=30,
        params={"account": ADMIN_USER, "client_id": "docker", "offline_token": "true", "service": "moorage"},
    )
    assert login.status_code == 200, login.text
    identity_token = login.json()["refresh_token"]
    form = {
        "grant_type": "refresh_token",
        "refresh_token": identity_token,
        "client_id": "registry-client",
        "service": "moorage",
        "scope": "repository:refresh-clients/app:pull,push",
    }
    traded = httpx.post(
        f"{base}/service/token",
        content=urlencode(form),
        timeout=30,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert traded.status_code == 200, traded.text
    bearer = {"Authorization": f"Bearer {traded.json()['access_token']}"}
    assert httpx.get(f"{base}/v2/", headers=bearer, timeout=30).status_code == 200
    assert "repository:refresh-clients/app:pull,push" in traded.json()["scope"]
