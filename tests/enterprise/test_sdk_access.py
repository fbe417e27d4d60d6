"""Instance credentials, endpoint policies and instance jobs through the official SDK against a
running moorage (SQLite and PostgreSQL), with real clients: skopeo logs in to an instance with a
long-term credential, and is refused at its next pull once the credential is disabled; a temporary
credential is refused once it expires; an instance's endpoint allowlist refuses a request from
another loopback address before authentication and before its body is read; instances and
namespaces carry tags and are found by them.

The server listens on 127.0.0.1, 127.0.0.5 and 127.0.0.6 (instances A and B are reached as
127.0.0.5:<port> and 127.0.0.6:<port>); clients connect from 127.0.0.1, 127.0.0.2 (another client)
and 127.0.0.3 (a trusted reverse proxy).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkswr.v2 import (
    AddDomainNameRequest,
    AddDomainNameRequestBody,
    CreateEndpointPolicyRequestBody,
    CreateInstanceEndpointPolicyRequest,
    CreateInstanceLtCredentialRequest,
    CreateInstanceResourceTagsRequest,
    CreateInstanceTempCredentialRequest,
    CreateLongTermCredentialRequestBody,
    CreateResourceTagsRequestBody,
    CreateSubResourceTagsRequest,
    DeleteInstanceJobRequest,
    DeleteInstanceLtCredentialRequest,
    DeleteInstanceResourceTagsRequest,
    DeleteResourceTagsRequestBody,
    DeleteSubResourceTagsRequest,
    IpInfo,
    ListInstanceJobsRequest,
    ListInstanceLtCredentialsRequest,
    ListInstanceProjectTagsRequest,
    ListInstanceRequest,
    ListInstanceResourceInstancesRequest,
    ListInstanceResourceTagsRequest,
    ListNamespaceTagsRequest,
    ListResourceInstancesRequestBody,
    ListSubResourceInstancesRequest,
    ListSubResourceTagsRequest,
    ResourceTag,
    ShowInstanceEndpointPolicyRequest,
    ShowInstanceJobRequest,
    ShowInstanceNamespaceRequest,
    ShowInstanceResourceInstancesCountRequest,
    ShowSubResourceInstancesCountRequest,
    TagsFilter,
    UpdateInstanceEndpointPolicyRequest,
    UpdateInstanceLtCredentialRequest,
    UpdateLongTermCredentialRequestBody,
    UpdateWhiteListRequestBody,
)

from tests.conftest import DATABASES, database_url_for
from tests.enterprise import layouts
from tests.enterprise.conftest import _starter
from tests.enterprise.support import (
    ADMIN,
    Enterprise,
    connect,
    create_instance,
    create_namespace,
    push,
    sdk_client,
    unique,
)
from tests.support import skopeo
from tests.support.accounts import Account, create_user
from tests.support.servers import stop_all

TEMPORARY_TTL = 3
OTHER_CLIENT = "127.0.0.2"
PROXY = "127.0.0.3"


@pytest.fixture(scope="module", params=DATABASES)
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A server (temporary credentials live ``TEMPORARY_TTL`` seconds; 127.0.0.3 is a trusted proxy),
    instances A and B each with namespace ``team`` holding ``app:v1``, and a user of the
    administrator's domain with read access to A's ``team``."""
    base = tmp_path_factory.mktemp("access")
    start, started = _starter(request, base)
    data_dir = base / "server"
    data_dir.mkdir()
    url = database_url_for(request, request.param, data_dir)
    server = start(
        database_url=url,
        data_dir=data_dir,
        env={
            "MOORAGE_ENTERPRISE__TEMPORARY_CREDENTIAL_TTL_SECONDS": str(TEMPORARY_TTL),
            "MOORAGE_TRUSTED_PROXIES": f"{PROXY}/32",
        },
    )
    try:
        ee = connect(server)
        hosts = {"a": f"127.0.0.5:{server.port}", "b": f"127.0.0.6:{server.port}"}
        ids = {name: create_instance(ee, unique(f"acc{name}"), domain_name=host) for name, host in hosts.items()}
        layout = layouts.write_layout(base / "layout", {"v1": "credential test image"})
        for name, host in hosts.items():
            create_namespace(ee, ids[name], "team")
            push(layout, "v1", f"{host}/team/app:v1")
        user = create_user(server, unique("cred").replace("-", "_"), domain=ADMIN.domain)
        with httpx.Client(base_url=f"http://{hosts['a']}", headers={"X-Auth-Token": ee.token}, timeout=30) as api:
            granted = api.post(
                "/v2/manage/namespaces/team/access", json=[{"user_id": user.user_id, "user_name": user.name, "auth": 1}]
            )
        assert granted.status_code == 201, granted.text
        yield {
            "ee": ee,
            "hosts": hosts,
            "ids": ids,
            "layout": layout,
            "user": user,
            "user_client": sdk_client(server, user),
            "url": url,
            "start": start,
            "data_dir": data_dir,
            "database": request.param,
        }
    finally:
        stop_all(started)


def _token(host: str, creds: tuple[str, str], scope: str = "repository:team/app:pull") -> httpx.Response:
    return httpx.get(f"http://{host}/service/token", params={"scope": scope}, auth=creds, timeout=30)


def _manifest(host: str, bearer: str) -> httpx.Response:
    return httpx.get(
        f"http://{host}/v2/team/app/manifests/v1",
        headers={"Authorization": f"Bearer {bearer}", "Accept": layouts.OCI_MANIFEST},
        timeout=30,
    )


def _pull(site: dict[str, Any], creds: tuple[str, str], host: str, tmp_path: Path) -> Any:
    return skopeo.pull(
        f"{host}/team/app:v1", tmp_path / f"pulled-{time.monotonic_ns()}", "v1", creds=creds, check=False
    )


# Credentials ---------------------------------------------------------------------------------------
def test_long_term_credential_logs_in_and_is_refused_once_disabled(site: dict[str, Any], tmp_path: Path) -> None:
    ee: Enterprise = site["ee"]
    user: Account = site["user"]
    hosts, instance_a = site["hosts"], site["ids"]["a"]
    client = site["user_client"]
    created = client.create_instance_lt_credential(
        CreateInstanceLtCredentialRequest(instance_id=instance_a, body=CreateLongTermCredentialRequestBody(name="ci-1"))
    )
    assert created.user_id == user.user_id and created.expire_date == "" and created.created_at.endswith("Z")
    assert created.auth_token.startswith("mrc1.") and created.token_id in created.auth_token
    creds = (user.name, created.auth_token)

    # skopeo logs in with it and pulls; the user's rights hold (read only), and only on instance A
    assert _pull(site, creds, hosts["a"], tmp_path).returncode == 0
    assert skopeo.push(site["layout"], "v1", f"{hosts['a']}/team/pushed:v1", creds=creds, check=False).returncode != 0
    assert _token(hosts["b"], creds).status_code == 401
    assert _pull(site, creds, hosts["b"], tmp_path).returncode != 0
    assert _token(f"127.0.0.1:{ee.server.port}", creds).status_code == 401  # nor the shared registry
    assert _token(hosts["a"], ("someone-else", created.auth_token)).status_code == 401

    listed = client.list_instance_lt_credentials(ListInstanceLtCredentialsRequest(instance_id=instance_a))
    assert listed.total == 1
    (shown,) = listed.auth_tokens
    assert (shown.token_id, shown.name, shown.enable, shown.user_profile, shown.instance_id) == (
        created.token_id,
        "ci-1",
        True,
        user.name,
        instance_a,
    )
    assert created.auth_token.split(".")[-1] not in str(listed.to_json_object())  # the secret is shown once only
    # a domain administrator sees everyone's with self_only=false; a user only their own
    everyone = ee.client.list_instance_lt_credentials(
        ListInstanceLtCredentialsRequest(instance_id=instance_a, self_only=False)
    )
    assert created.token_id in {t.token_id for t in everyone.auth_tokens}
    assert ee.client.list_instance_lt_credentials(ListInstanceLtCredentialsRequest(instance_id=instance_a)).total == 0

    bearer = _token(hosts["a"], creds).json()["token"]
    assert _manifest(hosts["a"], bearer).status_code == 200

    client.update_instance_lt_credential(
        UpdateInstanceLtCredentialRequest(
            instance_id=instance_a,
            credential_id=created.token_id,
            body=UpdateLongTermCredentialRequestBody(enable=False),
        )
    )
    refused = _pull(site, creds, hosts["a"], tmp_path)
    assert refused.returncode != 0 and "unauthorized" in refused.stderr.lower(), refused.stderr
    assert _token(hosts["a"], creds).status_code == 401
    assert _manifest(hosts["a"], bearer).status_code == 401  # the token issued before is refused as well
    basic = httpx.get(f"http://{hosts['a']}/v2/team/app/manifests/v1", auth=creds, timeout=30)
    assert basic.status_code == 401

    client.update_instance_lt_credential(
        UpdateInstanceLtCredentialRequest(
            instance_id=instance_a,
            credential_id=created.token_id,
            body=UpdateLongTermCredentialRequestBody(enable=True),
        )
    )
    assert _manifest(hosts["a"], bearer).status_code == 200
    client.delete_instance_lt_credential(
        DeleteInstanceLtCredentialRequest(instance_id=instance_a, credential_id=created.token_id)
    )
    assert _manifest(hosts["a"], bearer).status_code == 401
    assert _token(hosts["a"], creds).status_code == 401
    assert client.list_instance_lt_credentials(ListInstanceLtCredentialsRequest(instance_id=instance_a)).total == 0


def test_refresh_token_of_a_credential_ends_with_it(site: dict[str, Any]) -> None:
    """containerd and BuildKit log in by POST with ``access_type=offline``: the refresh token they keep
    is bound to the credential, and a bearer token it is exchanged for is bound to it too."""
    user: Account = site["user"]
    host, instance_a = site["hosts"]["a"], site["ids"]["a"]
    client = site["user_client"]
    created = client.create_instance_lt_credential(
        CreateInstanceLtCredentialRequest(
            instance_id=instance_a, body=CreateLongTermCredentialRequestBody(name="ci-refresh")
        )
    )
    scope = "repository:team/app:pull"
    login = httpx.post(
        f"http://{host}/service/token",
        data={
            "grant_type": "password",
            "username": user.name,
            "password": created.auth_token,
            "service": "moorage",
            "client_id": "containerd",
            "access_type": "offline",
            "scope": scope,
        },
        timeout=30,
    )
    assert login.status_code == 200, login.text
    refresh = login.json()["refresh_token"]

    def exchange() -> httpx.Response:
        return httpx.post(
            f"http://{host}/service/token",
            data={"grant_type": "refresh_token", "refresh_token": refresh, "service": "moorage", "scope": scope},
            timeout=30,
        )

    exchanged = exchange()
    assert exchanged.status_code == 200 and _manifest(host, exchanged.json()["access_token"]).status_code == 200
    client.update_instance_lt_credential(
        UpdateInstanceLtCredentialRequest(
            instance_id=instance_a,
            credential_id=created.token_id,
            body=UpdateLongTermCredentialRequestBody(enable=False),
        )
    )
    assert exchange().status_code == 401
    assert _manifest(host, exchanged.json()["access_token"]).status_code == 401
    client.delete_instance_lt_credential(
        DeleteInstanceLtCredentialRequest(instance_id=instance_a, credential_id=created.token_id)
    )


def test_long_term_credential_rules(site: dict[str, Any]) -> None:
    ee: Enterprise = site["ee"]
    instance_a = site["ids"]["a"]
    user_client = site["user_client"]

    def create(name: str, client: Any = ee.client) -> Any:
        return client.create_instance_lt_credential(
            CreateInstanceLtCredentialRequest(
                instance_id=instance_a, body=CreateLongTermCredentialRequestBody(name=name)
            )
        )

    for bad in ("", "Upper", "a..b", "a._b", "-lead", "trail.", "x" * 65):
        with pytest.raises(ClientRequestException) as caught:
            create(bad)
        assert caught.value.status_code == 400, bad
    mine = create("rules-1")
    with pytest.raises(ClientRequestException) as caught:
        create("rules-1")
    assert caught.value.status_code == 409
    # another user can neither see nor change the administrator's credential
    with pytest.raises(ClientRequestException) as caught:
        user_client.update_instance_lt_credential(
            UpdateInstanceLtCredentialRequest(
                instance_id=instance_a,
                credential_id=mine.token_id,
                body=UpdateLongTermCredentialRequestBody(enable=False),
            )
        )
    assert caught.value.status_code == 404
    with pytest.raises(ClientRequestException) as caught:
        user_client.delete_instance_lt_credential(
            DeleteInstanceLtCredentialRequest(instance_id=instance_a, credential_id=mine.token_id)
        )
    assert caught.value.status_code == 404
    ee.client.delete_instance_lt_credential(
        DeleteInstanceLtCredentialRequest(instance_id=instance_a, credential_id=mine.token_id)
    )


def test_secrets_are_stored_hashed_and_never_logged(site: dict[str, Any]) -> None:
    ee: Enterprise = site["ee"]
    instance_a = site["ids"]["a"]
    created = ee.client.create_instance_lt_credential(
        CreateInstanceLtCredentialRequest(instance_id=instance_a, body=CreateLongTermCredentialRequestBody(name="hash"))
    )
    temporary = ee.client.create_instance_temp_credential(CreateInstanceTempCredentialRequest(instance_id=instance_a))
    assert _token(site["hosts"]["a"], (ADMIN.name, created.auth_token)).status_code == 200
    assert _token(site["hosts"]["a"], (ADMIN.name, created.auth_token + "x")).status_code == 401
    engine = sa.create_engine(site["url"])
    try:
        with engine.connect() as conn:
            rows = [tuple(str(v) for v in row) for row in conn.execute(sa.text("SELECT * FROM ee_credentials"))]
    finally:
        engine.dispose()
    assert rows
    for issued in (created, temporary):
        secret = issued.auth_token.split(".")[-1]
        assert not any(secret in value for row in rows for value in row)
        assert secret not in ee.server.log()
    ee.client.delete_instance_lt_credential(
        DeleteInstanceLtCredentialRequest(instance_id=instance_a, credential_id=created.token_id)
    )


def test_temporary_credential_expires(site: dict[str, Any], tmp_path: Path) -> None:
    user: Account = site["user"]
    host = site["hosts"]["a"]
    client = site["user_client"]
    issued = client.create_instance_temp_credential(CreateInstanceTempCredentialRequest(instance_id=site["ids"]["a"]))
    assert issued.user_id == user.user_id and issued.expire_date > issued.created_at
    creds = (user.name, issued.auth_token)
    answer = _token(host, creds)
    assert answer.status_code == 200 and answer.json()["expires_in"] <= TEMPORARY_TTL
    bearer = answer.json()["token"]
    assert _manifest(host, bearer).status_code == 200
    assert _token(site["hosts"]["b"], creds).status_code == 401  # another instance's
    time.sleep(TEMPORARY_TTL + 1)
    assert _token(host, creds).status_code == 401
    assert _manifest(host, bearer).status_code == 401
    assert _pull(site, creds, host, tmp_path).returncode != 0


def test_revocation_and_policies_reach_another_node(site: dict[str, Any]) -> None:
    """A second server on the same database and data directory (another node): a credential disabled
    through the first is refused by the second at once; an allowlist set through the first applies
    on the second within its cache time. On PostgreSQL only: several nodes share PostgreSQL (a second
    server costs half a minute of this machine's time)."""
    if site["database"] != "postgresql":
        pytest.skip("several nodes share a PostgreSQL database")
    ee: Enterprise = site["ee"]
    user: Account = site["user"]
    instance_a = site["ids"]["a"]
    other = site["start"](
        database_url=site["url"],
        data_dir=site["data_dir"],
        env={"MOORAGE_ENTERPRISE__TEMPORARY_CREDENTIAL_TTL_SECONDS": str(TEMPORARY_TTL)},
    )
    host = f"127.0.0.5:{other.port}"
    ee.client.add_domain_name(
        AddDomainNameRequest(instance_id=instance_a, body=AddDomainNameRequestBody(domain_name=host))
    )
    created = site["user_client"].create_instance_lt_credential(
        CreateInstanceLtCredentialRequest(instance_id=instance_a, body=CreateLongTermCredentialRequestBody(name="node"))
    )
    creds = (user.name, created.auth_token)
    _eventually(lambda: _token(host, creds).status_code == 200)
    bearer = _token(host, creds).json()["token"]
    assert _manifest(host, bearer).status_code == 200
    site["user_client"].update_instance_lt_credential(
        UpdateInstanceLtCredentialRequest(
            instance_id=instance_a,
            credential_id=created.token_id,
            body=UpdateLongTermCredentialRequestBody(enable=False),
        )
    )
    assert _manifest(host, bearer).status_code == 401  # at once, on the other node
    assert _token(host, creds).status_code == 401

    ee.client.update_instance_endpoint_policy(
        UpdateInstanceEndpointPolicyRequest(
            instance_id=instance_a, body=UpdateWhiteListRequestBody(ip_list=[IpInfo(ip="127.0.0.1/32")])
        )
    )
    try:
        assert _status(OTHER_CLIENT, site["hosts"]["a"]) == 403  # at once on the node that made the change
        _eventually(lambda: _status(OTHER_CLIENT, host) == 403, timeout=5)
        assert _status("127.0.0.1", host) == 401
    finally:
        ee.client.update_instance_endpoint_policy(
            UpdateInstanceEndpointPolicyRequest(instance_id=instance_a, body=UpdateWhiteListRequestBody(ip_list=[]))
        )
        other.stop()
    _eventually(lambda: _status(OTHER_CLIENT, site["hosts"]["a"]) == 401)


# Endpoint policies ---------------------------------------------------------------------------------
def _from(address: str, host: str, **headers: str) -> httpx.Client:
    """A client connecting from ``address`` to ``host``."""
    return httpx.Client(
        base_url=f"http://{host}",
        transport=httpx.HTTPTransport(local_address=address),
        headers=headers,
        timeout=30,
    )


def _eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    """Policies reach every process of the server within its host cache time (2 s)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the policy did not take effect"
        time.sleep(0.2)


def _status(address: str, host: str, path: str = "/v2/", **headers: str) -> int:
    with _from(address, host, **headers) as api:
        return api.get(path).status_code


def _raw_put_without_body(address: str, host: str) -> bytes:
    """The status line of a PUT that announces a 5 MB body and sends none: answered only by a server
    that does not wait for the body."""
    hostname, port = host.rsplit(":", 1)
    with socket.create_connection((hostname, int(port)), timeout=10, source_address=(address, 0)) as sock:
        sock.sendall(
            (
                f"PUT /v2/team/app/manifests/v9 HTTP/1.1\r\nHost: {host}\r\n"
                f"Content-Type: {layouts.OCI_MANIFEST}\r\nContent-Length: 5000000\r\n\r\n"
            ).encode()
        )
        return sock.recv(4096).split(b"\r\n", 1)[0]


def test_endpoint_allowlist_refuses_other_addresses_before_authentication(site: dict[str, Any]) -> None:
    ee: Enterprise = site["ee"]
    hosts, instance_a = site["hosts"], site["ids"]["a"]
    shown = ee.client.show_instance_endpoint_policy(ShowInstanceEndpointPolicyRequest(instance_id=instance_a))
    assert (shown.status, shown.ip_list) == ("Enable", [])
    assert _status(OTHER_CLIENT, hosts["a"]) == 401  # open: every address reaches authentication

    ee.client.update_instance_endpoint_policy(
        UpdateInstanceEndpointPolicyRequest(
            instance_id=instance_a,
            body=UpdateWhiteListRequestBody(ip_list=[IpInfo(ip="127.0.0.1", description="ci runners")]),
        )
    )
    shown = ee.client.show_instance_endpoint_policy(ShowInstanceEndpointPolicyRequest(instance_id=instance_a))
    assert (shown.status, [(i.ip, i.description) for i in shown.ip_list]) == ("Enable", [("127.0.0.1", "ci runners")])
    _eventually(lambda: _status(OTHER_CLIENT, hosts["a"]) == 403)
    try:
        # the registry API: an OCI error, before authentication (no 401 challenge), even with good credentials
        with _from(OTHER_CLIENT, hosts["a"]) as api:
            refused = api.get("/v2/team/app/manifests/v1", auth=(ADMIN.name, ADMIN.password))
            token = api.get(
                "/service/token", params={"scope": "repository:team/app:pull"}, auth=(ADMIN.name, ADMIN.password)
            )
        assert refused.status_code == 403 and "www-authenticate" not in refused.headers
        assert refused.json()["errors"][0]["code"] == "DENIED"
        assert OTHER_CLIENT in refused.json()["errors"][0]["message"]
        assert token.status_code == 403 and token.json()["errors"][0]["code"] == "DENIED"
        # before the body is read: a PUT announcing 5 MB and sending nothing is answered at once
        assert b" 403 " in _raw_put_without_body(OTHER_CLIENT, hosts["a"])
        # the management API reached through the instance's host name: its own dialect
        with _from(OTHER_CLIENT, hosts["a"], **{"X-Auth-Token": ee.token}) as api:
            management = api.get(f"/v2/{ee.project}/instances/{instance_a}")
        assert management.status_code == 403 and management.json()["error_code"].startswith("SVCSTG.SWR.403")
        # the allowed address, the other instance and the shared registry are untouched
        assert _status("127.0.0.1", hosts["a"]) == 401
        assert skopeo.inspect_raw(f"{hosts['a']}/team/app:v1", creds=(ADMIN.name, ADMIN.password))["schemaVersion"] == 2
        assert _status(OTHER_CLIENT, hosts["b"]) == 401
        assert _status(OTHER_CLIENT, f"127.0.0.1:{ee.server.port}") == 401
        # behind the trusted proxy the forwarded address counts; from anyone else the header does not
        assert _status(PROXY, hosts["a"], **{"X-Forwarded-For": "127.0.0.1"}) == 401
        assert _status(PROXY, hosts["a"], **{"X-Forwarded-For": "127.0.0.9"}) == 403
        assert _status(PROXY, hosts["a"]) == 403  # the proxy itself is not allowlisted
        assert _status(OTHER_CLIENT, hosts["a"], **{"X-Forwarded-For": "127.0.0.1"}) == 403
    finally:
        ee.client.update_instance_endpoint_policy(
            UpdateInstanceEndpointPolicyRequest(instance_id=instance_a, body=UpdateWhiteListRequestBody(ip_list=[]))
        )
    _eventually(lambda: _status(OTHER_CLIENT, hosts["a"]) == 401)


def test_endpoint_policy_switch_and_validation(site: dict[str, Any]) -> None:
    ee: Enterprise = site["ee"]
    hosts, instance_b = site["hosts"], site["ids"]["b"]

    def switch(enable: bool) -> None:
        ee.client.create_instance_endpoint_policy(
            CreateInstanceEndpointPolicyRequest(
                instance_id=instance_b, body=CreateEndpointPolicyRequestBody(enable=enable)
            )
        )

    with pytest.raises(ClientRequestException) as caught:
        switch(True)  # already on
    assert caught.value.status_code == 409
    switch(False)
    try:
        shown = ee.client.show_instance_endpoint_policy(ShowInstanceEndpointPolicyRequest(instance_id=instance_b))
        assert shown.status == "Disable"
        _eventually(lambda: _status("127.0.0.1", hosts["b"]) == 403)  # off: every address
        assert _status("127.0.0.1", hosts["a"]) == 401
        with pytest.raises(ClientRequestException) as caught:
            switch(False)
        assert caught.value.status_code == 409
    finally:
        switch(True)
    _eventually(lambda: _status("127.0.0.1", hosts["b"]) == 401)
    for bad in ("10.0.0.1/8", "not-an-address", "300.1.1.1", "", "10.0.0.0/33"):
        with pytest.raises(ClientRequestException) as caught:
            ee.client.update_instance_endpoint_policy(
                UpdateInstanceEndpointPolicyRequest(
                    instance_id=instance_b, body=UpdateWhiteListRequestBody(ip_list=[IpInfo(ip=bad)])
                )
            )
        assert caught.value.status_code == 400, bad
    with pytest.raises(ClientRequestException) as caught:  # one network twice
        ee.client.update_instance_endpoint_policy(
            UpdateInstanceEndpointPolicyRequest(
                instance_id=instance_b,
                body=UpdateWhiteListRequestBody(ip_list=[IpInfo(ip="10.0.0.0/8"), IpInfo(ip="10.0.0.0/8")]),
            )
        )
    assert caught.value.status_code == 400
    shown = ee.client.show_instance_endpoint_policy(ShowInstanceEndpointPolicyRequest(instance_id=instance_b))
    assert (shown.status, shown.ip_list) == ("Enable", [])  # nothing stored by the refused requests


# Instance jobs -------------------------------------------------------------------------------------
def test_delete_instance_job(site: dict[str, Any]) -> None:
    ee: Enterprise = site["ee"]
    instance_id = create_instance(ee, unique("jobs"))
    job = next(j for j in ee.client.list_instance_jobs(ListInstanceJobsRequest()).jobs if j.instance_id == instance_id)
    assert ee.client.show_instance_job(ShowInstanceJobRequest(job_id=job.id)).status == "Success"
    user_client = site["user_client"]
    with pytest.raises(ClientRequestException) as caught:  # only a domain administrator
        user_client.delete_instance_job(DeleteInstanceJobRequest(job_id=job.id))
    assert caught.value.status_code == 403
    ee.client.delete_instance_job(DeleteInstanceJobRequest(job_id=job.id))
    assert job.id not in {j.id for j in ee.client.list_instance_jobs(ListInstanceJobsRequest()).jobs}
    for call in (
        lambda: ee.client.show_instance_job(ShowInstanceJobRequest(job_id=job.id)),
        lambda: ee.client.delete_instance_job(DeleteInstanceJobRequest(job_id=job.id)),
    ):
        with pytest.raises(ClientRequestException) as caught:
            call()
        assert caught.value.status_code == 404
    # the instance stays
    assert instance_id in {i.id for i in ee.client.list_instance(ListInstanceRequest()).instances}


# Resource tags -------------------------------------------------------------------------------------
def test_instance_tags_and_tag_queries(site: dict[str, Any]) -> None:
    ee: Enterprise = site["ee"]
    ids = site["ids"]
    a, b = ids["a"], ids["b"]
    ee.client.create_instance_resource_tags(
        CreateInstanceResourceTagsRequest(
            resource_type="instances",
            resource_id=a,
            body=CreateResourceTagsRequestBody(
                tags=[ResourceTag(key="env", value="prod"), ResourceTag(key="team name", value="core-1@x.y/z")]
            ),
        )
    )
    ee.client.create_instance_resource_tags(
        CreateInstanceResourceTagsRequest(
            resource_type="instances",
            resource_id=b,
            body=CreateResourceTagsRequestBody(tags=[ResourceTag(key="env", value="dev")]),
        )
    )
    # a key the instance has gets the new value
    ee.client.create_instance_resource_tags(
        CreateInstanceResourceTagsRequest(
            resource_type="instances",
            resource_id=a,
            body=CreateResourceTagsRequestBody(tags=[ResourceTag(key="team name", value="platform")]),
        )
    )
    listed = ee.client.list_instance_resource_tags(
        ListInstanceResourceTagsRequest(resource_type="instances", resource_id=a)
    )
    assert {(t.key, t.value) for t in listed.tags} == {("env", "prod"), ("team name", "platform")}
    summary = ee.client.list_instance_project_tags(ListInstanceProjectTagsRequest())
    assert {t.key: sorted(t.values) for t in summary.tags} == {"env": ["dev", "prod"], "team name": ["platform"]}

    def find(filters: list[TagsFilter]) -> tuple[set[str], int]:
        body = ListResourceInstancesRequestBody(tags=filters)
        found = ee.client.list_instance_resource_instances(
            ListInstanceResourceInstancesRequest(resource_type="instances", body=body)
        )
        counted = ee.client.show_instance_resource_instances_count(
            ShowInstanceResourceInstancesCountRequest(resource_type="instances", body=body)
        )
        assert counted.total_count == found.total_count
        return {r.resource_id for r in found.resources}, found.total_count

    assert find([TagsFilter(key="env", values=["prod"])]) == ({a}, 1)
    assert find([TagsFilter(key="env", values=["prod", "dev"])]) == ({a, b}, 2)  # values or-ed
    assert find([TagsFilter(key="env", values=[])])[0] >= {a, b}  # any value
    assert find([TagsFilter(key="env", values=["dev"]), TagsFilter(key="team name", values=[])]) == (set(), 0)
    found = ee.client.list_instance_resource_instances(
        ListInstanceResourceInstancesRequest(
            resource_type="instances",
            body=ListResourceInstancesRequestBody(tags=[TagsFilter(key="env", values=["prod"])]),
        )
    )
    (resource,) = found.resources
    assert resource.resource_name.startswith("acca") and {t.key for t in resource.tags} == {"env", "team name"}

    ee.client.delete_instance_resource_tags(
        DeleteInstanceResourceTagsRequest(
            resource_type="instances",
            resource_id=b,
            body=DeleteResourceTagsRequestBody(tags=[ResourceTag(key="env")]),
        )
    )
    assert (
        ee.client.list_instance_resource_tags(
            ListInstanceResourceTagsRequest(resource_type="instances", resource_id=b)
        ).tags
        == []
    )
    assert find([TagsFilter(key="env", values=["dev"])]) == (set(), 0)


@pytest.mark.parametrize(
    "tags",
    [
        [("_sys_x", "v")],  # reserved prefix
        [("", "v")],
        [("k" * 129, "v")],
        [("k", "v" * 256)],
        [("bad/key", "v")],  # '/' is for values only
        [("k", "bad#value")],
        [("k", "a"), ("k", "b")],  # a key twice
        [(f"k{i}", "v") for i in range(21)],  # past 20 in one request
    ],
)
def test_tag_rules(site: dict[str, Any], tags: list[tuple[str, str]]) -> None:
    ee: Enterprise = site["ee"]
    b = site["ids"]["b"]
    with pytest.raises(ClientRequestException) as caught:
        ee.client.create_instance_resource_tags(
            CreateInstanceResourceTagsRequest(
                resource_type="instances",
                resource_id=b,
                body=CreateResourceTagsRequestBody(tags=[ResourceTag(key=k, value=v) for k, v in tags]),
            )
        )
    assert caught.value.status_code == 400 and caught.value.error_code.startswith("SVCSTG.SWR.400")
    assert (
        ee.client.list_instance_resource_tags(
            ListInstanceResourceTagsRequest(resource_type="instances", resource_id=b)
        ).tags
        == []
    )  # nothing stored


def test_tag_count_per_resource_and_resource_type(site: dict[str, Any]) -> None:
    ee: Enterprise = site["ee"]
    instance_id = create_instance(ee, unique("tags"))

    def add(keys: list[str], resource_type: str = "instances") -> None:
        ee.client.create_instance_resource_tags(
            CreateInstanceResourceTagsRequest(
                resource_type=resource_type,
                resource_id=instance_id,
                body=CreateResourceTagsRequestBody(tags=[ResourceTag(key=k, value="v") for k in keys]),
            )
        )

    add([f"k{i}" for i in range(15)])
    add([f"k{i}" for i in range(10, 20)])  # five new keys: 20 in all
    with pytest.raises(ClientRequestException) as caught:
        add(["one-more"])
    assert caught.value.status_code == 400
    with pytest.raises(ClientRequestException) as caught:
        add(["x"], resource_type="namespaces")
    assert caught.value.status_code == 400
    listed = ee.client.list_instance_resource_tags(
        ListInstanceResourceTagsRequest(resource_type="instances", resource_id=instance_id)
    )
    assert len(listed.tags) == 20


def test_namespace_tags(site: dict[str, Any]) -> None:
    ee: Enterprise = site["ee"]
    a = site["ids"]["a"]
    other = create_namespace(ee, a, unique("ns"))
    team = ee.client.show_instance_namespace(ShowInstanceNamespaceRequest(instance_id=a, namespace_name="team"))
    ee.client.create_sub_resource_tags(
        CreateSubResourceTagsRequest(
            resource_type="instances",
            resource_id=a,
            sub_resource_type="namespaces",
            sub_resource_id=str(team.namespace_id),
            body=CreateResourceTagsRequestBody(tags=[ResourceTag(key="tier", value="gold")]),
        )
    )
    ee.client.create_sub_resource_tags(
        CreateSubResourceTagsRequest(
            resource_type="instances",
            resource_id=a,
            sub_resource_type="namespaces",
            sub_resource_id=str(other),
            body=CreateResourceTagsRequestBody(tags=[ResourceTag(key="tier", value="silver")]),
        )
    )
    by_name = ee.client.list_sub_resource_tags(
        ListSubResourceTagsRequest(
            resource_type="instances", resource_id=a, sub_resource_type="namespaces", sub_resource_id="team"
        )
    )
    assert [(t.key, t.value) for t in by_name.tags] == [("tier", "gold")]
    summary = ee.client.list_namespace_tags(ListNamespaceTagsRequest(instance_id=a))
    assert {t.key: sorted(t.values) for t in summary.tags} == {"tier": ["gold", "silver"]}
    body = ListResourceInstancesRequestBody(tags=[TagsFilter(key="tier", values=["gold"])])
    found = ee.client.list_sub_resource_instances(
        ListSubResourceInstancesRequest(
            resource_type="instances", resource_id=a, sub_resource_type="namespaces", body=body
        )
    )
    assert [(r.resource_id, r.resource_name) for r in found.resources] == [(str(team.namespace_id), "team")]
    counted = ee.client.show_sub_resource_instances_count(
        ShowSubResourceInstancesCountRequest(
            resource_type="instances", resource_id=a, sub_resource_type="namespaces", body=body
        )
    )
    assert counted.total_count == 1
    # a user sees the tags of the namespaces they may see only, and cannot change any
    user_client = site["user_client"]
    seen = user_client.list_namespace_tags(ListNamespaceTagsRequest(instance_id=a))
    assert {t.key: t.values for t in seen.tags} == {"tier": ["gold"]}
    with pytest.raises(ClientRequestException) as caught:
        user_client.list_sub_resource_tags(
            ListSubResourceTagsRequest(
                resource_type="instances", resource_id=a, sub_resource_type="namespaces", sub_resource_id=str(other)
            )
        )
    assert caught.value.status_code == 404
    with pytest.raises(ClientRequestException) as caught:
        user_client.delete_sub_resource_tags(
            DeleteSubResourceTagsRequest(
                resource_type="instances",
                resource_id=a,
                sub_resource_type="namespaces",
                sub_resource_id="team",
                body=DeleteResourceTagsRequestBody(tags=[ResourceTag(key="tier")]),
            )
        )
    assert caught.value.status_code == 403
    ee.client.delete_sub_resource_tags(
        DeleteSubResourceTagsRequest(
            resource_type="instances",
            resource_id=a,
            sub_resource_type="namespaces",
            sub_resource_id="team",
            body=DeleteResourceTagsRequestBody(tags=[ResourceTag(key="tier")]),
        )
    )
    assert (
        ee.client.list_sub_resource_tags(
            ListSubResourceTagsRequest(
                resource_type="instances", resource_id=a, sub_resource_type="namespaces", sub_resource_id="team"
            )
        ).tags
        == []
    )
