"""Sharing with other accounts, the shared-repository listings, the account operations (overview,
quotas, feature gates, regions, reports, agency), API versions and login commands, through the
official SDK (AK/SK); and that a share really lets the other account pull, until it expires."""

from __future__ import annotations

import datetime
import time

import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkswr.v2 import (
    CheckAgencyRequest,
    CreateAgencyRequest,
    CreateAuthorizationTokenRequest,
    CreateNamespaceRequest,
    CreateNamespaceRequestBody,
    CreateRepoDomainsRequest,
    CreateRepoDomainsRequestBody,
    CreateRepoRequest,
    CreateRepoRequestBody,
    CreateSecretRequest,
    DeleteRepoDomainsRequest,
    ListApiVersionsRequest,
    ListNamespacesRequest,
    ListQuotasRequest,
    ListRepoDomainsRequest,
    ListSharedRepoDetailsRequest,
    ListSharedReposDetailsRequest,
    ListSyncRegionsRequest,
    ShowAccessDomainRequest,
    ShowApiVersionRequest,
    ShowDomainOverviewRequest,
    ShowDomainResourceReportsRequest,
    ShowShareFeatureGatesRequest,
    UpdateRepoDomainsRequest,
    UpdateRepoDomainsRequestBody,
)

from tests.api.swr.conftest import Swr, assert_sdk_types, assert_swr_error, connect
from tests.support.accounts import REGION, create_user
from tests.support.swr_images import Image, image, push

NS = "org-share"


@pytest.fixture(scope="module")
def guest(swr: Swr) -> Swr:
    """A user of another account (domain ``share-guest``)."""
    return connect(swr.server, create_user(swr.server, "share-guest"))


@pytest.fixture(scope="module")
def shared_image(swr: Swr) -> Image:
    """``org-share/shared/app:v1`` and an empty ``org-share/other``."""
    client = swr.sdk()
    client.create_namespace(CreateNamespaceRequest(body=CreateNamespaceRequestBody(namespace=NS)))
    client.create_repo(CreateRepoRequest(namespace=NS, body=CreateRepoRequestBody(repository="other")))
    img = image([{"share": b"me"}], label="shared")
    with swr.registry() as registry:
        push(registry, f"{NS}/shared/app", "v1", img)
    return img


def _share(
    swr: Swr, repository: str, domain: str, *, permit: str = "read", deadline: str = "forever", description: str = ""
) -> None:
    swr.sdk().create_repo_domains(
        CreateRepoDomainsRequest(
            namespace=NS,
            repository=repository,
            body=(
                CreateRepoDomainsRequestBody(
                    access_domain=domain, permit=permit, deadline=deadline, description=description
                )
            ),
        )
    )


def _pull_status(account: Swr, name: str, tag: str, img: Image) -> int:
    with account.registry() as registry:
        return registry.get(f"/v2/{name}/manifests/{tag}", headers={"Accept": img.media_type}).status_code


def test_share_lifecycle_and_errors(swr: Swr, guest: Swr, shared_image: Image) -> None:
    client = swr.sdk()
    _share(swr, "shared$app", guest.account.domain, description="for the guest")
    listed = client.list_repo_domains(ListRepoDomainsRequest(namespace=NS, repository="shared$app")).body
    assert len(listed) == 1
    assert_sdk_types(listed[0])
    assert (listed[0].access_domain, listed[0].permit, listed[0].deadline, listed[0].status) == (
        guest.account.domain,
        "read",
        "forever",
        True,
    )
    assert (listed[0].namespace, listed[0].repository, listed[0].creator_name) == (NS, "shared/app", swr.account.name)

    shown = client.show_access_domain(
        ShowAccessDomainRequest(namespace=NS, repository="shared$app", access_domain=guest.account.domain)
    )
    assert_sdk_types(shown)
    assert shown.exist is True and shown.description == "for the guest"
    absent = client.show_access_domain(
        ShowAccessDomainRequest(namespace=NS, repository="shared$app", access_domain="nobody-at-all")
    )
    assert (absent.exist, absent.status) == (False, False)

    client.update_repo_domains(
        UpdateRepoDomainsRequest(
            namespace=NS,
            repository="shared$app",
            access_domain=guest.account.domain,
            body=UpdateRepoDomainsRequestBody(permit="read", deadline="2099-01-01T00:00:00.000Z", description="later"),
        )
    )
    changed = client.show_access_domain(
        ShowAccessDomainRequest(namespace=NS, repository="shared$app", access_domain=guest.account.domain)
    )
    assert (changed.deadline, changed.description, changed.status) == ("2099-01-01T00:00:00Z", "later", True)

    for repository, kwargs, status, code in (
        ("shared$app", {"domain": guest.account.domain}, 409, "SVCSTG.SWR.4090089"),
        ("other", {"domain": "nobody-at-all"}, 400, "SVCSTG.SWR.4001041"),
        ("other", {"domain": swr.account.domain}, 400, "SVCSTG.SWR.4001041"),
        ("other", {"domain": guest.account.domain, "permit": "write"}, 400, "SVCSTG.SWR.4001066"),
        ("other", {"domain": guest.account.domain, "deadline": "2001-01-01T00:00:00Z"}, 400, "SVCSTG.SWR.4000014"),
        ("other", {"domain": guest.account.domain, "deadline": "next tuesday"}, 400, "SVCSTG.SWR.4000014"),
        ("missing", {"domain": guest.account.domain}, 404, "SVCSTG.SWR.4040010"),
    ):
        with pytest.raises(ClientRequestException) as caught:
            _share(swr, repository, **kwargs)
        assert_swr_error(caught, status, code)

    client.delete_repo_domains(
        DeleteRepoDomainsRequest(namespace=NS, repository="shared$app", access_domain=guest.account.domain)
    )
    assert not client.list_repo_domains(ListRepoDomainsRequest(namespace=NS, repository="shared$app")).body
    with pytest.raises(ClientRequestException) as caught:
        client.delete_repo_domains(
            DeleteRepoDomainsRequest(namespace=NS, repository="shared$app", access_domain=guest.account.domain)
        )
    assert_swr_error(caught, 404, "SVCSTG.SWR.4040091")


def test_a_share_lets_the_other_account_pull_until_it_expires(swr: Swr, guest: Swr, shared_image: Image) -> None:
    name = f"{NS}/shared/app"
    assert _pull_status(guest, name, "v1", shared_image) in (401, 403, 404)
    # Long enough for the pulls and listings below on loaded cores (3 s was not, at load 17); the test
    # sleeps out the rest.
    soon = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=10)
    _share(swr, "shared$app", guest.account.domain, deadline=soon.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z")
    try:
        assert _pull_status(guest, name, "v1", shared_image) == 200
        assert _pull_status(guest, name, "v1", shared_image) == 200
        theirs = guest.sdk()
        shared = theirs.list_shared_repos_details(ListSharedReposDetailsRequest(center="thirdparty"))
        assert [(r.namespace, r.name, r.tags, r.status) for r in shared.body] == [(NS, "shared/app", ["v1"], True)]
        assert shared.content_range == "0-1/1"
        for item in shared.body:
            assert_sdk_types(item)
        v3 = theirs.list_shared_repo_details(ListSharedRepoDetailsRequest(shared_by="thirdparty", status=True))
        assert [(r.name, r.status, r.domain_name) for r in v3.repos] == [("shared/app", True, swr.account.domain)]
        mine = swr.sdk().list_shared_repos_details(ListSharedReposDetailsRequest(filter="center::self"))
        assert [(r.name, r.status) for r in mine.body] == [("shared/app", False)]
        assert [r.name for r in swr.sdk().list_shared_repo_details(ListSharedRepoDetailsRequest()).repos] == [
            "shared/app"
        ]

        time.sleep(max(0.0, (soon - datetime.datetime.now(datetime.UTC)).total_seconds()) + 0.2)
        assert _pull_status(guest, name, "v1", shared_image) in (401, 403, 404)
        expired = theirs.list_shared_repo_details(ListSharedRepoDetailsRequest(shared_by="thirdparty", status=False))
        assert [(r.name, r.status) for r in expired.repos] == [("shared/app", False)]
        assert not theirs.list_shared_repo_details(
            ListSharedRepoDetailsRequest(shared_by="thirdparty", status=True)
        ).repos
    finally:
        swr.sdk().delete_repo_domains(
            DeleteRepoDomainsRequest(namespace=NS, repository="shared$app", access_domain=guest.account.domain)
        )
    assert not guest.sdk().list_shared_repos_details(ListSharedReposDetailsRequest(center="thirdparty")).body
    with pytest.raises(ClientRequestException) as caught:
        guest.sdk().list_shared_repos_details(ListSharedReposDetailsRequest(center="everyone"))
    assert_swr_error(caught, 400, "SVCSTG.SWR.4001035")


def test_overview_quotas_and_reports(swr: Swr, guest: Swr) -> None:
    client = swr.sdk()
    before = client.show_domain_overview(ShowDomainOverviewRequest())
    assert_sdk_types(before)
    assert (before.domain_name, before.domain_id) == (swr.account.domain, before.domain_id)
    client.create_namespace(CreateNamespaceRequest(body=CreateNamespaceRequestBody(namespace="org-count")))
    client.create_repo(CreateRepoRequest(namespace="org-count", body=CreateRepoRequestBody(repository="one")))
    img = image([{"count": b"1"}], label="count")
    with swr.registry() as registry:
        push(registry, "org-count/one", "a", img)
        push(registry, "org-count/one", "b", img)
    after = client.show_domain_overview(ShowDomainOverviewRequest())
    assert (
        after.namspace_num - before.namspace_num,
        after.repo_num - before.repo_num,
        after.image_num - before.image_num,
    ) == (1, 1, 2)
    assert after.store_space - before.store_space == img.size
    foreign = guest.sdk().show_domain_overview(ShowDomainOverviewRequest())
    assert foreign.domain_name == guest.account.domain and foreign.repo_num == 0

    quotas = client.list_quotas(ListQuotasRequest())
    assert_sdk_types(quotas)
    namespaces = client.list_namespaces(ListNamespacesRequest()).namespaces
    assert [(q.quota_key, q.quota_limit, q.used) for q in quotas.quotas] == [("namespace", 100, len(namespaces))]

    daily = client.show_domain_resource_reports(
        ShowDomainResourceReportsRequest(resource_type="repository", frequency="daily")
    ).body
    assert len(daily) == 30
    for point in daily:
        assert_sdk_types(point)
    assert daily[-1].date == datetime.datetime.now(datetime.UTC).date().isoformat()
    assert daily[-1].value == after.repo_num
    monthly = client.show_domain_resource_reports(
        ShowDomainResourceReportsRequest(resource_type="storage", frequency="monthly")
    ).body
    assert len(monthly) == 12 and monthly[-1].value == after.store_space
    with pytest.raises(ClientRequestException) as caught:
        client.show_domain_resource_reports(
            ShowDomainResourceReportsRequest(resource_type="bananas", frequency="daily")
        )
    assert_swr_error(caught, 400, "SVCSTG.SWR.4001025")


def test_feature_gates_regions_agency_versions_and_logins(swr: Swr, guest: Swr) -> None:
    client = swr.sdk()
    gates = client.show_share_feature_gates(ShowShareFeatureGatesRequest())
    assert_sdk_types(gates)
    assert gates.enable_list_v3 is True and gates.enable_image_sync is False
    regions = client.list_sync_regions(ListSyncRegionsRequest()).body
    assert [r.region_id for r in regions] == [REGION]

    assert guest.sdk().check_agency(CheckAgencyRequest()).is_agency is False  # never created there
    client.create_agency(CreateAgencyRequest())
    client.create_agency(CreateAgencyRequest())  # idempotent
    agency = client.check_agency(CheckAgencyRequest())
    assert_sdk_types(agency)
    assert agency.is_agency is True and len(agency.domain_id) == 32
    with pytest.raises(ClientRequestException) as caught:  # the account's administrator only
        guest.sdk().create_agency(CreateAgencyRequest())
    assert_swr_error(caught, 403, "SVCSTG.SWR.4039002")

    versions = client.list_api_versions(ListApiVersionsRequest()).versions
    assert [(v.id, v.status) for v in versions] == [("v2", "CURRENT"), ("v3", "SUPPORTED")]
    for version in versions:
        assert_sdk_types(version)
        assert version.links.href == f"{swr.server.base_url}/{version.id}/" and version.links.rel == "self"
    assert client.show_api_version(ShowApiVersionRequest(api_version="v3")).version.id == "v3"
    assert client.show_api_version(ShowApiVersionRequest(api_version="v2")).version.id == "v2"  # not the registry's /v2
    with pytest.raises(ClientRequestException) as caught:
        client.show_api_version(ShowApiVersionRequest(api_version="v9"))
    assert_swr_error(caught, 404, "SVCSTG.SWR.4040083")

    secret = client.create_secret(CreateSecretRequest(projectname=REGION))
    assert_sdk_types(secret)
    assert secret.x_swr_dockerlogin.startswith("docker login -u ") and swr.server.address in secret.auths
    token = client.create_authorization_token(CreateAuthorizationTokenRequest())
    assert_sdk_types(token)
