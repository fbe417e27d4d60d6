"""Organizations, their permissions and repositories through the official SDK (AK/SK), on both
databases: every field and type the SDK models define, the v2 and v3 listing filters, and the
documented errors (unknown organization, bad names, non-empty delete, bad filters)."""

from __future__ import annotations

import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkswr.v2 import (
    CreateNamespaceAuthRequest,
    CreateNamespaceRequest,
    CreateNamespaceRequestBody,
    CreateRepoRequest,
    CreateRepoRequestBody,
    CreateUserRepositoryAuthRequest,
    DeleteNamespaceAuthRequest,
    DeleteNamespacesRequest,
    DeleteRepoRequest,
    DeleteUserRepositoryAuthRequest,
    ListNamespacesRequest,
    ListRepoDetailsRequest,
    ListReposDetailsRequest,
    ShowNamespaceAuthRequest,
    ShowNamespaceRequest,
    ShowRepositoryRequest,
    ShowUserRepositoryAuthRequest,
    UpdateNamespaceAuthRequest,
    UpdateRepoRequest,
    UpdateRepoRequestBody,
    UpdateUserRepositoryAuthRequest,
    UserAuth,
)

from tests.api.swr.conftest import Swr, assert_sdk_types, assert_swr_error
from tests.support.accounts import create_user
from tests.support.swr_images import image, push


def _namespace(swr: Swr, name: str) -> None:
    swr.sdk().create_namespace(CreateNamespaceRequest(body=CreateNamespaceRequestBody(namespace=name)))


def _repo(swr: Swr, namespace: str, name: str, **attributes: object) -> None:
    swr.sdk().create_repo(
        CreateRepoRequest(namespace=namespace, body=CreateRepoRequestBody(repository=name, **attributes))
    )  # type: ignore[arg-type]


def test_organizations_lifecycle_and_errors(swr: Swr) -> None:
    client = swr.sdk()
    _namespace(swr, "org-life")
    shown = client.show_namespace(ShowNamespaceRequest(namespace="org-life"))
    assert_sdk_types(shown)
    assert (shown.name, shown.auth, shown.creator_name) == ("org-life", 7, swr.account.name)
    listed = client.list_namespaces(ListNamespacesRequest(namespace="org-life"))
    assert [n.name for n in listed.namespaces] == ["org-life"]
    assert_sdk_types(listed)

    with pytest.raises(ClientRequestException) as caught:
        client.show_namespace(ShowNamespaceRequest(namespace="no-such-org"))
    assert_swr_error(caught, 404, "SVCSTG.SWR.4040058")
    with pytest.raises(ClientRequestException) as caught:
        _namespace(swr, "Bad_Name")
    assert_swr_error(caught, 400, "SVCSTG.SWR.4001028")
    with pytest.raises(ClientRequestException) as caught:
        _namespace(swr, "org-life")
    assert_swr_error(caught, 409, "SVCSTG.SWR.4090060")

    _repo(swr, "org-life", "keeps-it")
    with pytest.raises(ClientRequestException) as caught:
        client.delete_namespaces(DeleteNamespacesRequest(namespace="org-life"))
    assert_swr_error(caught, 406, "SVCSTG.SWR.4060012")
    client.delete_repo(DeleteRepoRequest(namespace="org-life", repository="keeps-it"))
    client.delete_namespaces(DeleteNamespacesRequest(namespace="org-life"))
    with pytest.raises(ClientRequestException) as caught:
        client.show_namespace(ShowNamespaceRequest(namespace="org-life"))
    assert_swr_error(caught, 404, "SVCSTG.SWR.4040058")


def test_organization_and_repository_permissions(swr: Swr) -> None:
    client = swr.sdk()
    user = create_user(swr.server, "perm-user", domain=swr.account.domain)
    _namespace(swr, "org-perm")
    _repo(swr, "org-perm", "app")
    grant = [UserAuth(user_id=user.user_id, user_name=user.name, auth=1)]
    client.create_namespace_auth(CreateNamespaceAuthRequest(namespace="org-perm", body=grant))
    client.update_namespace_auth(
        UpdateNamespaceAuthRequest(
            namespace="org-perm", body=[UserAuth(user_id=user.user_id, user_name=user.name, auth=3)]
        )
    )
    shown = client.show_namespace_auth(ShowNamespaceAuthRequest(namespace="org-perm"))
    assert_sdk_types(shown)
    assert [(a.user_name, a.auth) for a in shown.others_auths] == [(user.name, 3)]
    client.delete_namespace_auth(DeleteNamespaceAuthRequest(namespace="org-perm", body=[user.user_id]))
    assert client.show_namespace_auth(ShowNamespaceAuthRequest(namespace="org-perm")).others_auths == []

    client.create_user_repository_auth(
        CreateUserRepositoryAuthRequest(namespace="org-perm", repository="app", body=grant)
    )
    client.update_user_repository_auth(
        UpdateUserRepositoryAuthRequest(
            namespace="org-perm", repository="app", body=[UserAuth(user_id=user.user_id, user_name=user.name, auth=7)]
        )
    )
    repo_auth = client.show_user_repository_auth(ShowUserRepositoryAuthRequest(namespace="org-perm", repository="app"))
    assert_sdk_types(repo_auth)
    assert [(a.user_id, a.auth) for a in repo_auth.others_auths] == [(user.user_id, 7)]
    client.delete_user_repository_auth(
        DeleteUserRepositoryAuthRequest(namespace="org-perm", repository="app", body=[user.user_id])
    )
    assert (
        client.show_user_repository_auth(
            ShowUserRepositoryAuthRequest(namespace="org-perm", repository="app")
        ).others_auths
        == []
    )
    with pytest.raises(ClientRequestException) as caught:
        client.create_namespace_auth(
            CreateNamespaceAuthRequest(
                namespace="org-perm", body=[UserAuth(user_id=user.user_id, user_name=user.name, auth=5)]
            )
        )
    assert_swr_error(caught, 400, "SVCSTG.SWR.4000014")


def test_repository_lifecycle(swr: Swr) -> None:
    client = swr.sdk()
    _namespace(swr, "org-repo")
    _repo(swr, "org-repo", "tools/builder", is_public=False, category="linux", description="builds things")
    shown = client.show_repository(ShowRepositoryRequest(namespace="org-repo", repository="tools$builder"))
    assert_sdk_types(shown)
    host = swr.server.address
    assert (shown.name, shown.category, shown.description, shown.is_public) == (
        "tools/builder",
        "linux",
        "builds things",
        False,
    )
    assert (shown.num_images, shown.size, shown.num_download) == (0, 0, 0)
    assert shown.path == shown.internal_path == f"{host}/org-repo/tools/builder"
    assert shown.creator_name == swr.account.name and len(shown.domain_id) == 32
    assert shown.created.endswith("Z") and len(shown.created) == len("2018-07-06T06:18:55Z")

    client.update_repo(
        UpdateRepoRequest(
            namespace="org-repo",
            repository="tools$builder",
            body=UpdateRepoRequestBody(is_public=True, category="database", description="changed"),
        )
    )
    changed = client.show_repository(ShowRepositoryRequest(namespace="org-repo", repository="tools$builder"))
    assert (changed.is_public, changed.category, changed.description) == (True, "database", "changed")

    with swr.registry() as registry:  # the first push lands in the repository made before it
        img = image([{"etc/motd": b"hi\n"}], label="lifecycle")
        push(registry, "org-repo/tools/builder", "v1", img)
    pushed = client.show_repository(ShowRepositoryRequest(namespace="org-repo", repository="tools$builder"))
    assert (pushed.id, pushed.num_images, pushed.size) == (shown.id, 1, img.size)

    client.delete_repo(DeleteRepoRequest(namespace="org-repo", repository="tools$builder"))
    with pytest.raises(ClientRequestException) as caught:
        client.show_repository(ShowRepositoryRequest(namespace="org-repo", repository="tools$builder"))
    assert_swr_error(caught, 404, "SVCSTG.SWR.4040010")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"repository": "Upper"}, "SVCSTG.SWR.4001029"),
        ({"repository": "a..b"}, "SVCSTG.SWR.4001029"),
        ({"repository": "ok", "category": "toys"}, "SVCSTG.SWR.4000014"),
    ],
)
def test_repository_creation_refuses_bad_input(swr: Swr, body: dict[str, object], code: str) -> None:
    _namespace_once(swr, "org-bad")
    with pytest.raises(ClientRequestException) as caught:
        swr.sdk().create_repo(CreateRepoRequest(namespace="org-bad", body=CreateRepoRequestBody(**body)))
    assert_swr_error(caught, 400, code)


def _namespace_once(swr: Swr, name: str) -> None:
    try:
        _namespace(swr, name)
    except ClientRequestException as exc:
        assert exc.status_code == 409


def test_repository_errors(swr: Swr) -> None:
    client = swr.sdk()
    _namespace_once(swr, "org-err")
    _repo(swr, "org-err", "dup")
    with pytest.raises(ClientRequestException) as caught:
        _repo(swr, "org-err", "dup")
    assert_swr_error(caught, 409, "SVCSTG.SWR.4090006")
    with pytest.raises(ClientRequestException) as caught:
        _repo(swr, "no-such-org", "x")
    assert_swr_error(caught, 404, "SVCSTG.SWR.4040058")
    with pytest.raises(ClientRequestException) as caught:
        client.update_repo(
            UpdateRepoRequest(namespace="org-err", repository="missing", body=UpdateRepoRequestBody(is_public=True))
        )
    assert_swr_error(caught, 404, "SVCSTG.SWR.4040010")


def test_repository_listings_v2_and_v3(swr: Swr) -> None:
    client = swr.sdk()
    _namespace(swr, "org-list")
    names = [f"svc-{i}" for i in range(5)]
    for i, name in enumerate(names):
        _repo(swr, "org-list", name, category="linux" if i % 2 else "lang", is_public=i == 0)
    with swr.registry() as registry:
        push(registry, "org-list/svc-3", "latest", image([{"x": b"3"}], label="list"))

    plain = client.list_repos_details(
        ListReposDetailsRequest(namespace="org-list", limit="2", offset="0", order_column="name", order_type="asc")
    )
    assert [r.name for r in plain.body] == ["svc-0", "svc-1"]
    assert plain.content_range == "0-2/5"
    for item in plain.body:
        assert_sdk_types(item)
        assert item.total_range == 5 and item.namespace == "org-list" and item.domain_name == swr.account.domain
    second = client.list_repos_details(
        ListReposDetailsRequest(filter="namespace::org-list|offset::4|limit::2|order_column::name|order_type::asc")
    )
    assert [r.name for r in second.body] == ["svc-4"] and second.content_range == "4-1/5"
    by_category = client.list_repos_details(ListReposDetailsRequest(namespace="org-list", category="linux"))
    assert sorted(r.name for r in by_category.body) == ["svc-1", "svc-3"]
    fuzzy = client.list_repos_details(ListReposDetailsRequest(filter="namespace::rg-lis|name::VC-3"))
    assert [(r.name, r.tags, r.num_images) for r in fuzzy.body] == [("svc-3", ["latest"], 1)]
    by_tags = client.list_repos_details(
        ListReposDetailsRequest(
            namespace="org-list", order_column="tag_count", order_type="desc", limit="1", offset="0"
        )
    )
    assert by_tags.body[0].name == "svc-3"

    seen: list[str] = []
    marker = 0
    while True:
        page = client.list_repo_details(ListRepoDetailsRequest(namespace="org-list", limit=2, marker=marker))
        for item in page.repos:
            assert_sdk_types(item)
        seen += [r.name for r in page.repos]
        if page.next_marker is None:
            break
        marker = page.next_marker
    assert seen == names
    public = client.list_repo_details(ListRepoDetailsRequest(namespace="org-list", is_public=True))
    assert [r.name for r in public.repos] == ["svc-0"]


@pytest.mark.parametrize(
    ("request_args", "code"),
    [
        ({"limit": "1001", "offset": "0"}, "SVCSTG.SWR.4000056"),
        ({"limit": "0"}, "SVCSTG.SWR.4000056"),
        ({"limit": "ten"}, "SVCSTG.SWR.4000056"),
        ({"limit": "2", "offset": "3"}, "SVCSTG.SWR.4000056"),
        ({"order_column": "colour", "order_type": "asc"}, "SVCSTG.SWR.4001035"),
        ({"order_column": "name", "order_type": "sideways"}, "SVCSTG.SWR.4001035"),
        ({"filter": "colour::red"}, "SVCSTG.SWR.4001035"),
        ({"filter": "limit:5"}, "SVCSTG.SWR.4001035"),
        ({"filter": "offset::1|limit::2"}, "SVCSTG.SWR.4000056"),
    ],
)
def test_repository_listing_refuses_bad_filters(swr: Swr, request_args: dict[str, str], code: str) -> None:
    with pytest.raises(ClientRequestException) as caught:
        swr.sdk().list_repos_details(ListReposDetailsRequest(**request_args))
    assert_swr_error(caught, 400, code)


def test_listings_show_only_what_a_user_may_see(swr: Swr) -> None:
    _namespace(swr, "org-seen")
    _repo(swr, "org-seen", "visible")
    _namespace(swr, "org-hidden")
    _repo(swr, "org-hidden", "secret")
    user = create_user(swr.server, "seen-user", domain=swr.account.domain)
    swr.sdk().create_namespace_auth(
        CreateNamespaceAuthRequest(
            namespace="org-seen", body=[UserAuth(user_id=user.user_id, user_name=user.name, auth=1)]
        )
    )
    from tests.api.swr.conftest import connect

    theirs = connect(swr.server, user).sdk()
    listed = theirs.list_repos_details(ListReposDetailsRequest(filter="name::e"))
    assert {(r.namespace, r.name) for r in listed.body} == {("org-seen", "visible")}
    assert [r.name for r in theirs.list_repo_details(ListRepoDetailsRequest(name="secret")).repos] == []
    with pytest.raises(ClientRequestException) as caught:
        theirs.show_repository(ShowRepositoryRequest(namespace="org-hidden", repository="secret"))
    assert caught.value.status_code == 403
    with pytest.raises(ClientRequestException) as caught:  # read permission does not allow deleting
        theirs.delete_repo(DeleteRepoRequest(namespace="org-seen", repository="visible"))
    assert_swr_error(caught, 403, "SVCSTG.SWR.4039002")
