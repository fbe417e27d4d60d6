"""``/v2`` is two things on one port: the registry's version check (``/v2/``, what every container
tool pings) and SWR's version document (``GET /v2``, ShowApiVersion). moorage answers the version
document to a ``GET /v2`` without registry credentials (none, or an SDK signature) and the registry
to everything else (docs/api-coverage.md, "Wire notes"). Logins must still reach the registry's
check: a wrong password has to fail, which it would not if a client were answered the document.
"""

from __future__ import annotations

import subprocess

import httpx
import pytest

from tests.oci.registry_auth import registry_credentials
from tests.support.servers import ServerProcess
from tests.support.tools import require_tool

pytestmark = pytest.mark.e2e


def _login(tool: str, registry: ServerProcess, env: dict[str, str], user: str, password: str) -> bool:
    require_tool(tool)
    completed = subprocess.run(
        [tool, "login", "--tls-verify=false", "-u", user, "--password-stdin", registry.address],
        input=password.encode(),
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    return completed.returncode == 0


@pytest.mark.parametrize("tool", ["skopeo", "podman"])
def test_login_still_checks_the_password(
    registry: ServerProcess, client_env: dict[str, str], tool: str, target: str
) -> None:
    credentials = registry_credentials(registry)
    if credentials is None:
        pytest.skip("the reference registry asks for no credentials")
    user, password = credentials
    assert _login(tool, registry, client_env, user, password), f"{tool} login refused the right password"
    assert not _login(tool, registry, client_env, user, password + "-wrong"), f"{tool} login took a wrong password"


@pytest.mark.moorage_extra("SWR's version document at GET /v2")
def test_get_v2_without_credentials_is_the_version_document(registry: ServerProcess) -> None:
    with httpx.Client(base_url=registry.base_url, timeout=30) as anonymous:
        document = anonymous.get("/v2")
        assert document.status_code == 200, document.text
        assert document.json()["version"]["id"] == "v2"
        assert anonymous.get("/v3").json()["version"]["id"] == "v3"
        challenge = anonymous.get("/v2/")
        assert challenge.status_code == 401
        assert challenge.headers["WWW-Authenticate"].startswith("Bearer ")


@pytest.mark.moorage_extra("SWR's version document at GET /v2")
def test_get_v2_with_registry_credentials_is_the_version_check(registry: ServerProcess) -> None:
    credentials = registry_credentials(registry)
    assert credentials is not None
    with httpx.Client(base_url=registry.base_url, timeout=30) as client:
        basic = client.get("/v2", auth=credentials)
        assert basic.status_code == 200
        assert basic.headers["Docker-Distribution-API-Version"] == "registry/2.0"
        assert basic.json() == {}
        token = client.get("/service/token", params={"service": "moorage"}, auth=credentials).json()["token"]
        bearer = client.get("/v2", headers={"Authorization": f"Bearer {token}"})
        assert bearer.headers["Docker-Distribution-API-Version"] == "registry/2.0"
        assert bearer.json() == {}
