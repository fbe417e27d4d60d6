"""Helpers of the Enterprise Edition tests: the administrator's official SDK client, instances
reachable on loopback by address, signing keys, policies, and waiting for executions."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkswr.v2 import (
    AddDomainNameRequest,
    AddDomainNameRequestBody,
    CreateInstanceNamespaceRequest,
    CreateInstanceNamespaceRequestBody,
    CreateInstanceRequest,
    CreateInstanceRequestBody,
    CreateInstanceSignPolicyRequest,
    CreateSignaturePolicyRequestBody,
    DeleteDomainNameRequest,
    ExecuteInstanceSignPolicyRequest,
    ListDomainNamesRequest,
    ListInstanceRequest,
    ListInstanceSignPolicyExecutionsRequest,
    NamespaceMetadata,
    SignRuleSelector,
    SignScopeRule,
    SwrClient,
    TriggerConfig,
)

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.support import skopeo
from tests.support.accounts import Account, create_access_key, iam_token, project_id
from tests.support.servers import ServerProcess
from tests.support.upload_urls import closing_url

ADMIN = Account(ADMIN_USER, ADMIN_PASSWORD, ADMIN_USER)
FINISHED = ("Succeed", "Failed", "Stopped")


@dataclass
class Enterprise:
    """A running server and the administrator's ways in."""

    server: ServerProcess
    client: SwrClient
    project: str
    token: str

    def http(self, token: str | None = None) -> httpx.Client:
        """Plain HTTP to the management API with an IAM token."""
        return httpx.Client(base_url=self.server.base_url, headers={"X-Auth-Token": token or self.token}, timeout=30)

    @property
    def instance_address(self) -> str:
        """``127.0.0.5:<port>``: the server's second address, given to an instance as its domain name."""
        return f"127.0.0.5:{self.server.port}"


def sdk_client(server: ServerProcess, account: Account) -> SwrClient:
    """The official SDK client signing with a fresh AK/SK of ``account``."""
    access, secret = create_access_key(server, account)
    credentials = BasicCredentials(access, secret, project_id(server, account))
    return SwrClient.new_builder().with_credentials(credentials).with_endpoints([server.base_url]).build()


def connect(server: ServerProcess) -> Enterprise:
    """The administrator's SDK client and token for a server."""
    return Enterprise(server, sdk_client(server, ADMIN), project_id(server), iam_token(server, ADMIN))


def unique(prefix: str) -> str:
    """A name no other test of the module uses."""
    return f"{prefix}-{secrets.token_hex(3)}"


def create_instance(ee: Enterprise, name: str, *, domain_name: str | None = None) -> str:
    """A new instance (with a domain name, when given); its id."""
    created = ee.client.create_instance(
        CreateInstanceRequest(
            body=CreateInstanceRequestBody(
                name=name,
                spec="swr.ee.professional",
                charge_mode="postPaid",
                vpc_id="vpc",
                subnet_id="subnet",
                project_id=ee.project,
            )
        )
    )
    if domain_name:
        ee.client.add_domain_name(
            AddDomainNameRequest(
                instance_id=created.instance_id, body=AddDomainNameRequestBody(domain_name=domain_name)
            )
        )
    return str(created.instance_id)


def release_domain_names(ee: Enterprise) -> None:
    """Delete the domain names of every instance of the server: a module that shares the server with
    others gives back the addresses its instances took (each module gives its own the same ones)."""
    offset = 0
    while True:
        listed = ee.client.list_instance(ListInstanceRequest(offset=offset, limit=100)).instances or []
        for instance in listed:
            names = ee.client.list_domain_names(ListDomainNamesRequest(instance_id=instance.id))
            for info in names.domain_name_infos or []:
                ee.client.delete_domain_name(DeleteDomainNameRequest(instance_id=instance.id, domainname_id=info.uid))
        if len(listed) < 100:
            return
        offset += 100


def create_namespace(ee: Enterprise, instance_id: str, name: str, *, public: bool = False) -> int:
    """A namespace of an instance; its id."""
    response = ee.client.create_instance_namespace(
        CreateInstanceNamespaceRequest(
            instance_id=instance_id,
            body=CreateInstanceNamespaceRequestBody(
                namespace_name=name, metadata=NamespaceMetadata(public="true" if public else "false")
            ),
        )
    )
    return int(response.id)


def create_key(ee: Enterprise, instance_id: str, name: str = "signer") -> dict[str, Any]:
    """A signing key of the instance (moorage's key API, plain HTTP)."""
    with ee.http() as api:
        response = api.post(f"/v2/{ee.project}/instances/{instance_id}/signature/keys", json={"name": name})
    assert response.status_code == 201, response.text
    key: dict[str, Any] = response.json()
    return key


def public_key_file(ee: Enterprise, instance_id: str, key_id: str, path: Path) -> Path:
    """Download a key's public PEM to ``path``."""
    with ee.http() as api:
        response = api.get(f"/v2/{ee.project}/instances/{instance_id}/signature/keys/{key_id}/public-key")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-pem-file")
    path.write_text(response.text)
    return path


def selector(decoration: str, pattern: str, extras: str | None = None) -> SignRuleSelector:
    """A doublestar selector."""
    return SignRuleSelector(kind="doublestar", decoration=decoration, pattern=pattern, extras=extras)


def create_policy(
    ee: Enterprise,
    instance_id: str,
    namespace: str,
    key_id: str,
    *,
    repositories: str = "**",
    tags: str = "**",
    trigger: str = "manual",
    name: str | None = None,
    exclude_tags: str | None = None,
) -> int:
    """A signature policy; its id."""
    tag_selectors = [selector("matches", tags)]
    if exclude_tags:
        tag_selectors.append(selector("excludes", exclude_tags))
    body = CreateSignaturePolicyRequestBody(
        name=name or unique("policy"),
        description="test policy",
        enabled=True,
        signature_method="KMS",
        signature_algorithm="ECDSA_SHA_256",
        signature_key=key_id,
        trigger=TriggerConfig(type=trigger),
        scope_rules=[
            SignScopeRule(
                tag_selectors=tag_selectors,
                scope_selectors={"repository": [selector("repoMatches", repositories)]},
                repo_scope_mode="regular",
            )
        ],
    )
    response = ee.client.create_instance_sign_policy(
        CreateInstanceSignPolicyRequest(instance_id=instance_id, namespace_name=namespace, body=body)
    )
    return int(response.id)


def execute(ee: Enterprise, instance_id: str, namespace: str, policy_id: int) -> int:
    """Start an execution; its id."""
    response = ee.client.execute_instance_sign_policy(
        ExecuteInstanceSignPolicyRequest(instance_id=instance_id, namespace_name=namespace, policy_id=policy_id)
    )
    return int(response.id)


def execution(ee: Enterprise, instance_id: str, namespace: str, policy_id: int, execution_id: int) -> Any:
    """The SDK's ``Execution`` of an execution id."""
    listed = ee.client.list_instance_sign_policy_executions(
        ListInstanceSignPolicyExecutionsRequest(
            instance_id=instance_id, namespace_name=namespace, policy_id=policy_id, offset=0, limit=100
        )
    )
    return next(e for e in listed.executions if e.id == execution_id)


def wait_execution(
    ee: Enterprise, instance_id: str, namespace: str, policy_id: int, execution_id: int, *, timeout: float = 60
) -> Any:
    """Poll until the execution has finished; the SDK's ``Execution``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = execution(ee, instance_id, namespace, policy_id, execution_id)
        if found.status in FINISHED:
            return found
        time.sleep(0.2)
    raise AssertionError(f"execution {execution_id} did not finish in {timeout}s:\n{ee.server.log()[-4000:]}")


def push(layout: Path, tag: str, destination: str, *, creds: tuple[str, str] = (ADMIN_USER, ADMIN_PASSWORD)) -> None:
    """``skopeo copy oci:<layout>:<tag> docker://<destination>``."""
    skopeo.push(layout, tag, destination, creds=creds)


def upload(
    host: str, repository: str, images: dict[str, str], *, creds: tuple[str, str] = (ADMIN_USER, ADMIN_PASSWORD)
) -> None:
    """Push images (tag -> content of ``layouts.image_blobs``) through the OCI API directly: what
    skopeo does, without a process per image, for tests that need many."""
    from tests.enterprise import layouts

    token = httpx.get(
        f"http://{host}/service/token", params={"scope": f"repository:{repository}:pull,push"}, auth=creds, timeout=30
    ).json()["token"]
    with httpx.Client(base_url=f"http://{host}", headers={"Authorization": f"Bearer {token}"}, timeout=30) as api:
        for tag, content in images.items():
            manifest, blobs = layouts.image_blobs(content)
            for digest, data in blobs.items():
                if data == manifest:
                    continue
                started = api.post(f"/v2/{repository}/blobs/uploads/")
                assert started.status_code == 202, started.text
                done = api.put(
                    closing_url(started.headers["location"], digest),
                    content=data,
                    headers={"Content-Type": "application/octet-stream"},
                )
                assert done.status_code == 201, done.text
            stored = api.put(
                f"/v2/{repository}/manifests/{tag}", content=manifest, headers={"Content-Type": layouts.OCI_MANIFEST}
            )
            assert stored.status_code == 201, stored.text
