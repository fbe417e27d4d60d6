"""Instances, domain names, namespaces, repositories and artifacts through the official SDK against a
running moorage (SQLite and PostgreSQL), and the isolation of instances: two instances hold
namespaces of the same name without seeing each other, and a user with rights on one has none on
the other."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkswr.v2 import (
    DeleteDomainNameRequest,
    DeleteInstanceArtifactRequest,
    DeleteInstanceNamespaceRequest,
    DeleteInstanceRepositoryRequest,
    DeleteInstanceRequest,
    DeleteInstanceTagRequest,
    ListDomainNamesRequest,
    ListInstanceAllArtifactsRequest,
    ListInstanceArtifactsRequest,
    ListInstanceNamespacesRequest,
    ListInstanceRepositoriesRequest,
    ListInstanceRequest,
    ListInstanceStatisticsRequest,
    ListInstanceTagsRequest,
    ListNamespaceRepositoriesRequest,
    NamespaceMetadata,
    ShowInstanceArtifactAdditionRequest,
    ShowInstanceArtifactRequest,
    ShowInstanceConfigurationRequest,
    ShowInstanceNamespaceRequest,
    ShowInstanceRepositoryRequest,
    ShowInstanceRequest,
    UpdateDomainNameRequest,
    UpdateDomainNameRequestBody,
    UpdateInstanceConfigurationRequest,
    UpdateInstanceConfigurationRequestBody,
    UpdateInstanceNamespaceRequest,
    UpdateInstanceRepositoryRequest,
    UpdateNamespaceRequestBody,
    UpdateRepoConfigRequestBody,
)

from tests.enterprise import layouts
from tests.enterprise.support import (
    ADMIN,
    Enterprise,
    create_instance,
    create_namespace,
    push,
    sdk_client,
    unique,
)
from tests.support import skopeo
from tests.support.accounts import Account, create_user, iam_token

CREDS = (ADMIN.name, ADMIN.password)


@pytest.fixture(scope="module")
def two(ee: Enterprise, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Instances A (reached as 127.0.0.5:<port>) and B (as 127.0.0.6:<port>), each with a namespace
    ``shared`` holding ``app:v1`` of different content, and ``app:v2`` in A."""
    port = ee.server.port
    hosts = {"a": f"127.0.0.5:{port}", "b": f"127.0.0.6:{port}"}
    ids = {name: create_instance(ee, unique(f"iso{name}"), domain_name=host) for name, host in hosts.items()}
    for instance_id in ids.values():
        create_namespace(ee, instance_id, "shared")
    layout = layouts.write_layout(
        tmp_path_factory.mktemp("layout") / "img", {"a": "content of A", "a2": "content of A, v2", "b": "content of B"}
    )
    push(layout, "a", f"{hosts['a']}/shared/app:v1")
    push(layout, "a2", f"{hosts['a']}/shared/app:v2")
    push(layout, "b", f"{hosts['b']}/shared/app:v1")
    return {"ids": ids, "hosts": hosts, "layout": layout}


# Instances --------------------------------------------------------------------------------------
def test_instance_lifecycle(ee: Enterprise) -> None:
    name = unique("life")
    instance_id = create_instance(ee, name)
    shown = ee.client.show_instance(ShowInstanceRequest(instance_id=instance_id))
    assert (shown.id, shown.name, shown.status, shown.spec, shown.charge_mode) == (
        instance_id,
        name,
        "Running",
        "swr.ee.professional",
        "postPaid",
    )
    assert shown.project_id == ee.project and shown.created_at.endswith("Z") and shown.user_def_obs is False
    listed = ee.client.list_instance(ListInstanceRequest(limit=100))
    assert instance_id in {i.id for i in listed.instances} and isinstance(listed.total, int)
    with pytest.raises(ClientRequestException) as caught:
        create_instance(ee, name)
    assert caught.value.status_code == 409
    with pytest.raises(ClientRequestException) as caught:
        create_instance(ee, "Bad_Name")
    assert caught.value.status_code == 400
    ee.client.delete_instance(DeleteInstanceRequest(instance_id=instance_id))
    with pytest.raises(ClientRequestException) as caught:
        ee.client.show_instance(ShowInstanceRequest(instance_id=instance_id))
    assert caught.value.status_code == 404
    assert caught.value.error_code == "SVCSTG.SWR.4040010" and "not found" in caught.value.error_msg


def test_domain_names(ee: Enterprise, two: dict[str, Any]) -> None:
    a = two["ids"]["a"]
    found = ee.client.list_domain_names(ListDomainNamesRequest(instance_id=a))
    assert [d.domain_name for d in found.domain_name_infos] == [two["hosts"]["a"]]
    info = found.domain_name_infos[0]
    assert (info.instance_id, info.type, info.project_id) == (a, "custom", ee.project)
    extra = ee.client.add_domain_name(_add(a, "registry-a.example.test")).domain_name_info
    updated = ee.client.update_domain_name(
        UpdateDomainNameRequest(
            instance_id=a, domainname_id=extra.uid, body=UpdateDomainNameRequestBody(certificate_id="cert-1")
        )
    )
    assert updated.domain_name_info.certificate_id == "cert-1"
    # the name now reaches instance A: its namespace answers there
    with ee.http() as api:
        response = api.get("/v2/manage/namespaces", headers={"Host": "registry-a.example.test"})
    assert [n["name"] for n in response.json()["namespaces"]] == ["shared"]
    with pytest.raises(ClientRequestException) as caught:  # one name, one instance
        ee.client.add_domain_name(_add(two["ids"]["b"], "Registry-A.example.test."))
    assert caught.value.status_code == 400 and "not available" in caught.value.error_msg
    with pytest.raises(ClientRequestException) as caught:  # nor a wildcard of the whole allowed suffix
        ee.client.add_domain_name(_add(two["ids"]["b"], "*.example.test"))
    assert caught.value.status_code == 400
    with pytest.raises(ClientRequestException) as caught:  # the instance has it already
        ee.client.add_domain_name(_add(a, "registry-a.example.test:80"))
    assert caught.value.status_code == 409
    with pytest.raises(ClientRequestException) as caught:
        ee.client.add_domain_name(_add(a, "not a host!"))
    assert caught.value.status_code == 400
    ee.client.delete_domain_name(DeleteDomainNameRequest(instance_id=a, domainname_id=extra.uid))
    with ee.http() as api:
        response = api.get("/v2/manage/namespaces", headers={"Host": "registry-a.example.test"})
    assert "shared" not in [n["name"] for n in response.json()["namespaces"]]  # back to the shared registry


def _add(instance_id: str, name: str) -> Any:
    from huaweicloudsdkswr.v2 import AddDomainNameRequest, AddDomainNameRequestBody

    return AddDomainNameRequest(instance_id=instance_id, body=AddDomainNameRequestBody(domain_name=name))


def test_configuration_and_statistics(ee: Enterprise, two: dict[str, Any]) -> None:
    a = two["ids"]["a"]
    assert (
        ee.client.show_instance_configuration(ShowInstanceConfigurationRequest(instance_id=a)).anonymous_access is False
    )
    stats = ee.client.list_instance_statistics(ListInstanceStatisticsRequest(instance_id=a))
    assert (stats.total_namespace_count, stats.total_image_count) == (1, 1)
    assert stats.storage_used > 0 and stats.namespace_quota > 0
    # anonymous pulls of a public namespace follow the instance's configuration
    ee.client.update_instance_namespace(
        UpdateInstanceNamespaceRequest(
            instance_id=a,
            namespace_name="shared",
            body=UpdateNamespaceRequestBody(metadata=NamespaceMetadata(public="true")),
        )
    )
    try:
        anonymous = f"http://{two['hosts']['a']}/service/token"
        assert httpx.get(anonymous, params={"scope": "repository:shared/app:pull"}).status_code == 401
        ee.client.update_instance_configuration(
            UpdateInstanceConfigurationRequest(
                instance_id=a, body=UpdateInstanceConfigurationRequestBody(anonymous_access=True)
            )
        )
        token = httpx.get(anonymous, params={"scope": "repository:shared/app:pull"}).json()["token"]
        manifest = httpx.get(
            f"http://{two['hosts']['a']}/v2/shared/app/manifests/v1",
            headers={"Authorization": f"Bearer {token}", "Accept": layouts.OCI_MANIFEST},
        )
        assert manifest.status_code == 200
    finally:
        ee.client.update_instance_configuration(
            UpdateInstanceConfigurationRequest(
                instance_id=a, body=UpdateInstanceConfigurationRequestBody(anonymous_access=False)
            )
        )
        ee.client.update_instance_namespace(
            UpdateInstanceNamespaceRequest(
                instance_id=a,
                namespace_name="shared",
                body=UpdateNamespaceRequestBody(metadata=NamespaceMetadata(public="false")),
            )
        )


# Namespaces, repositories, artifacts --------------------------------------------------------------
def test_namespaces(ee: Enterprise, two: dict[str, Any]) -> None:
    a = two["ids"]["a"]
    namespace_id = create_namespace(ee, a, "extra-ns", public=True)
    shown = ee.client.show_instance_namespace(ShowInstanceNamespaceRequest(instance_id=a, namespace_name="extra-ns"))
    assert (shown.name, shown.namespace_id, shown.repo_count, shown.metadata.public) == (
        "extra-ns",
        namespace_id,
        0,
        "true",
    )
    ee.client.update_instance_namespace(
        UpdateInstanceNamespaceRequest(
            instance_id=a,
            namespace_name="extra-ns",
            body=UpdateNamespaceRequestBody(
                metadata=NamespaceMetadata(public="false", auto_scan="true", severity="high")
            ),
        )
    )
    shown = ee.client.show_instance_namespace(ShowInstanceNamespaceRequest(instance_id=a, namespace_name="extra-ns"))
    assert (shown.metadata.public, shown.metadata.auto_scan, shown.metadata.severity) == ("false", "true", "high")
    listed = ee.client.list_instance_namespaces(
        ListInstanceNamespacesRequest(instance_id=a, order_column="name", order_type="asc")
    )
    assert [n.name for n in listed.namespaces] == ["extra-ns", "shared"] and listed.total == 2
    only_public = ee.client.list_instance_namespaces(ListInstanceNamespacesRequest(instance_id=a, public="true"))
    assert only_public.total == 0
    with pytest.raises(ClientRequestException) as caught:
        create_namespace(ee, a, "extra-ns")
    assert caught.value.status_code == 409
    with pytest.raises(ClientRequestException) as caught:  # not empty: SWR's documented 406
        ee.client.delete_instance_namespace(DeleteInstanceNamespaceRequest(instance_id=a, namespace_name="shared"))
    assert (caught.value.status_code, caught.value.error_code) == (406, "SVCSTG.SWR.4060012")

    ee.client.delete_instance_namespace(DeleteInstanceNamespaceRequest(instance_id=a, namespace_name="extra-ns"))
    assert ee.client.list_instance_namespaces(ListInstanceNamespacesRequest(instance_id=a)).total == 1


def test_repositories_and_artifacts(ee: Enterprise, two: dict[str, Any]) -> None:
    a = two["ids"]["a"]
    repos = ee.client.list_namespace_repositories(
        ListNamespaceRepositoriesRequest(instance_id=a, namespace_name="shared")
    )
    assert [(r.name, r.namespace_name, r.tag_count, r.artifact_count) for r in repos.repositories] == [
        ("app", "shared", 2, 2)
    ]
    everywhere = ee.client.list_instance_repositories(ListInstanceRepositoriesRequest(instance_id=a))
    assert [r.id for r in everywhere.repositories] == [repos.repositories[0].id]
    ee.client.update_instance_repository(
        UpdateInstanceRepositoryRequest(
            instance_id=a,
            namespace_name="shared",
            repository_name="app",
            body=UpdateRepoConfigRequestBody(description="the app"),
        )
    )
    shown = ee.client.show_instance_repository(
        ShowInstanceRepositoryRequest(instance_id=a, namespace_name="shared", repository_name="app")
    )
    assert shown.description == "the app"
    artifacts = ee.client.list_instance_artifacts(
        ListInstanceArtifactsRequest(instance_id=a, namespace_name="shared", repository_name="app")
    )
    assert artifacts.total == 2
    newest = artifacts.artifacts[0]
    assert newest.digest == layouts.manifest_digest("content of A, v2") and [t.name for t in newest.tags] == ["v2"]
    assert (newest.type, newest.manifest_media_type, newest.media_type) == (
        "IMAGE",
        layouts.OCI_MANIFEST,
        layouts.OCI_CONFIG,
    )
    assert isinstance(newest.size, int) and newest.size > 0 and newest.push_time
    one = ee.client.show_instance_artifact(
        ShowInstanceArtifactRequest(instance_id=a, namespace_name="shared", repository_name="app", reference="v1")
    )
    assert one.digest == layouts.manifest_digest("content of A")
    by_digest = ee.client.show_instance_artifact(
        ShowInstanceArtifactRequest(instance_id=a, namespace_name="shared", repository_name="app", reference=one.digest)
    )
    assert by_digest.id == one.id
    history = ee.client.show_instance_artifact_addition(
        ShowInstanceArtifactAdditionRequest(
            instance_id=a, namespace_name="shared", repository_name="app", reference="v1", addition="build_history"
        )
    )
    assert history.total == 2
    assert history.build_histories[0].created_by == "COPY hello.txt # content of A"
    assert history.build_histories[0].digest and history.build_histories[1].empty_layer is True
    tags = ee.client.list_instance_tags(
        ListInstanceTagsRequest(instance_id=a, namespace_name="shared", repository_name="app")
    )
    assert [t.name for t in tags.tags] == ["v1", "v2"] and tags.total == 2
    all_artifacts = ee.client.list_instance_all_artifacts(ListInstanceAllArtifactsRequest(instance_id=a, limit=1))
    assert len(all_artifacts.artifacts) == 1 and all_artifacts.next_marker == all_artifacts.artifacts[0].id
    rest = ee.client.list_instance_all_artifacts(
        ListInstanceAllArtifactsRequest(instance_id=a, limit=10, marker=all_artifacts.next_marker)
    )
    assert len(rest.artifacts) == 1 and rest.next_marker is None


def test_deleting_tags_artifacts_and_repositories(ee: Enterprise, two: dict[str, Any]) -> None:
    a, host = two["ids"]["a"], two["hosts"]["a"]
    push(two["layout"], "a", f"{host}/shared/scratch:one")
    push(two["layout"], "a2", f"{host}/shared/scratch:two")
    ee.client.delete_instance_tag(
        DeleteInstanceTagRequest(instance_id=a, namespace_name="shared", repository_name="scratch", tag_name="one")
    )
    remaining = ee.client.list_instance_tags(
        ListInstanceTagsRequest(instance_id=a, namespace_name="shared", repository_name="scratch")
    )
    assert [t.name for t in remaining.tags] == ["two"]
    ee.client.delete_instance_artifact(
        DeleteInstanceArtifactRequest(
            instance_id=a, namespace_name="shared", repository_name="scratch", reference="two"
        )
    )
    with pytest.raises(skopeo.SkopeoError):
        skopeo.inspect_raw(f"{host}/shared/scratch:two", creds=CREDS)
    ee.client.delete_instance_repository(
        DeleteInstanceRepositoryRequest(instance_id=a, namespace_name="shared", repository_name="scratch")
    )
    with pytest.raises(ClientRequestException) as caught:
        ee.client.show_instance_repository(
            ShowInstanceRepositoryRequest(instance_id=a, namespace_name="shared", repository_name="scratch")
        )
    assert caught.value.status_code == 404


# Isolation ----------------------------------------------------------------------------------------
def test_same_namespace_in_two_instances(ee: Enterprise, two: dict[str, Any]) -> None:
    hosts, ids = two["hosts"], two["ids"]
    digest_a = skopeo.run(
        "inspect",
        "--format",
        "{{.Digest}}",
        "--tls-verify=false",
        "--creds",
        ":".join(CREDS),
        f"docker://{hosts['a']}/shared/app:v1",
    ).stdout.strip()
    digest_b = skopeo.run(
        "inspect",
        "--format",
        "{{.Digest}}",
        "--tls-verify=false",
        "--creds",
        ":".join(CREDS),
        f"docker://{hosts['b']}/shared/app:v1",
    ).stdout.strip()
    assert digest_a == layouts.manifest_digest("content of A")
    assert digest_b == layouts.manifest_digest("content of B")
    for name, expected in (("a", ["v1", "v2"]), ("b", ["v1"])):
        tags = ee.client.list_instance_tags(
            ListInstanceTagsRequest(instance_id=ids[name], namespace_name="shared", repository_name="app")
        )
        assert [t.name for t in tags.tags] == expected
    # neither is in the shared registry
    with pytest.raises(skopeo.SkopeoError):
        skopeo.inspect_raw(f"{ee.server.address}/shared/app:v1", creds=CREDS)


def test_instances_make_namespaces_through_their_api_only(ee: Enterprise, two: dict[str, Any]) -> None:
    result = skopeo.push(two["layout"], "a", f"{two['hosts']['a']}/nowhere/app:v1", creds=CREDS, check=False)
    assert result.returncode != 0
    names = ee.client.list_instance_namespaces(ListInstanceNamespacesRequest(instance_id=two["ids"]["a"]))
    assert "nowhere" not in [n.name for n in names.namespaces]


def test_rights_on_one_instance_are_none_on_the_other(ee: Enterprise, two: dict[str, Any]) -> None:
    hosts, ids = two["hosts"], two["ids"]
    user = create_user(ee.server, unique("dev").replace("-", "_"), domain=ADMIN.domain)
    # grant write on A's "shared", through the organization API sent to A's host name
    with httpx.Client(base_url=f"http://{hosts['a']}", headers={"X-Auth-Token": ee.token}, timeout=30) as api:
        granted = api.post(
            "/v2/manage/namespaces/shared/access", json=[{"user_id": user.user_id, "user_name": user.name, "auth": 3}]
        )
    assert granted.status_code == 201, granted.text
    creds = (user.name, user.password)
    assert skopeo.inspect_raw(f"{hosts['a']}/shared/app:v1", creds=creds)["schemaVersion"] == 2
    skopeo.push(two["layout"], "a2", f"{hosts['a']}/shared/by-user:v1", creds=creds)
    denied = skopeo.run(
        "inspect",
        "--raw",
        "--tls-verify=false",
        "--creds",
        ":".join(creds),
        f"docker://{hosts['b']}/shared/app:v1",
        check=False,
    )
    assert denied.returncode != 0 and ("denied" in denied.stderr.lower() or "unauthorized" in denied.stderr.lower())
    assert skopeo.push(two["layout"], "a2", f"{hosts['b']}/shared/by-user:v1", creds=creds, check=False).returncode != 0
    # a token of A is no good at B, even for the same repository name
    token = httpx.get(
        f"http://{hosts['a']}/service/token", params={"scope": "repository:shared/app:pull"}, auth=creds, timeout=30
    ).json()["token"]
    at_b = httpx.get(
        f"http://{hosts['b']}/v2/shared/app/manifests/v1",
        headers={"Authorization": f"Bearer {token}", "Accept": layouts.OCI_MANIFEST},
        timeout=30,
    )
    assert at_b.status_code == 401
    # the management API agrees
    client = sdk_client(ee.server, user)
    seen_a = client.list_instance_namespaces(ListInstanceNamespacesRequest(instance_id=ids["a"]))
    seen_b = client.list_instance_namespaces(ListInstanceNamespacesRequest(instance_id=ids["b"]))
    assert ([n.name for n in seen_a.namespaces], seen_b.namespaces, seen_b.total) == (["shared"], [], 0)
    with pytest.raises(ClientRequestException) as caught:
        client.show_instance_namespace(ShowInstanceNamespaceRequest(instance_id=ids["b"], namespace_name="shared"))
    assert caught.value.status_code == 403
    assert client.list_instance_repositories(ListInstanceRepositoriesRequest(instance_id=ids["b"])).total == 0
    with pytest.raises(ClientRequestException) as caught:  # users are not instance administrators
        client.delete_instance_namespace(DeleteInstanceNamespaceRequest(instance_id=ids["a"], namespace_name="shared"))
    assert caught.value.status_code == 403
    with pytest.raises(ClientRequestException) as caught:
        create_instance(Enterprise(ee.server, client, ee.project, ee.token), unique("not-mine"))
    assert caught.value.status_code == 403


def test_another_domain_sees_no_instance(ee: Enterprise, two: dict[str, Any], tmp_path: Path) -> None:
    outsider = create_user(ee.server, unique("outsider").replace("-", "_"))
    client = sdk_client(ee.server, outsider)
    assert client.list_instance(ListInstanceRequest()).total == 0
    with pytest.raises(ClientRequestException) as caught:
        client.show_instance(ShowInstanceRequest(instance_id=two["ids"]["a"]))
    assert caught.value.status_code == 404
    with pytest.raises(ClientRequestException) as caught:
        client.list_instance_namespaces(ListInstanceNamespacesRequest(instance_id=two["ids"]["a"]))
    assert caught.value.status_code == 404
    # nor can it use the organization API on the instance's host name
    token = iam_token(ee.server, Account(outsider.name, outsider.password, outsider.domain))
    with httpx.Client(base_url=f"http://{two['hosts']['a']}", headers={"X-Auth-Token": token}, timeout=30) as api:
        assert api.post("/v2/manage/namespaces", json={"namespace": "intruder"}).status_code == 404
    denied = skopeo.run(
        "inspect",
        "--raw",
        "--tls-verify=false",
        "--creds",
        f"{outsider.name}:{outsider.password}",
        f"docker://{two['hosts']['a']}/shared/app:v1",
        check=False,
    )
    assert denied.returncode != 0


def test_project_wide_listings(ee: Enterprise, two: dict[str, Any]) -> None:
    from huaweicloudsdkswr.v2 import (
        ListAllInstanceRepositoriesRequest,
        ListFeatureGatesRequest,
        ListGlobalFeatureGatesRequest,
        ListInstanceJobsRequest,
        ShowInstanceJobRequest,
    )

    first = ee.client.list_all_instance_repositories(ListAllInstanceRepositoriesRequest(limit=1, name="app"))
    assert len(first.repositories) == 1 and first.page_info.next_marker
    seen = [(r.instance_id, r.name) for r in first.repositories]
    marker = first.page_info.next_marker
    while marker:
        page = ee.client.list_all_instance_repositories(
            ListAllInstanceRepositoriesRequest(marker=marker, limit=1, name="app")
        )
        seen += [(r.instance_id, r.name) for r in page.repositories]
        marker = page.page_info.next_marker
    assert {(two["ids"]["a"], "app"), (two["ids"]["b"], "app")} <= set(seen)
    assert all(r.resource_urn and r.instance_name for r in first.repositories)
    jobs = ee.client.list_instance_jobs(ListInstanceJobsRequest(limit=100))
    mine = {j.resource_id: j for j in jobs.jobs}
    assert mine[two["ids"]["a"]].status == "Success" and jobs.total >= 2
    job = ee.client.show_instance_job(ShowInstanceJobRequest(job_id=mine[two["ids"]["a"]].id))
    assert (job.instance_id, job.type) == (two["ids"]["a"], "CreateInstance")
    with pytest.raises(ClientRequestException) as caught:
        ee.client.show_instance_job(ShowInstanceJobRequest(job_id="0" * 32))
    assert caught.value.status_code == 404 and caught.value.error_code == "SVCSTG.SWR.4040010"
    assert ee.client.list_global_feature_gates(ListGlobalFeatureGatesRequest()).enable_enterprise is True
    assert ee.client.list_feature_gates(ListFeatureGatesRequest(instance_id=two["ids"]["a"])).enable_domain_name
