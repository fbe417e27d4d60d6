"""Per-image detail operations (``/image/{image_id}/...``), the baseline and build-command
operations, the cross-image lists and vulnerability handling, through the official SDK against a
running moorage (SQLite and PostgreSQL): images with planted problems are pushed, scanned on push
with fixture advisories, and every list answers with the fields and types its model declares,
with its filters and paging. Handling runs in an account of its own (handling is per account)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkhss import v5 as hss

from tests.conftest import DATABASES, MoorageFactory
from tests.hss.conftest import HssAccount, new_account
from tests.hss.detail_images import EXTENDED_PASSWORD, Pushed, clean_image, push_and_wait, risky_image
from tests.hss.support import build_advisories, hss_client
from tests.hss.test_pull_policy import policy_api
from tests.hss.test_sdk_images import check_types
from tests.support import swr_images as si
from tests.support.servers import ServerProcess

ORG = "details-org"


@dataclass
class World:
    server: ServerProcess
    account: HssAccount
    client: hss.HssClient
    risky: Pushed
    clean: Pushed

    def api(self) -> httpx.Client:
        """Plain HTTP to ``/v5/{project}/image`` as the account (moorage's own export download)."""
        return policy_api(self.server, self.account)


@pytest.fixture(scope="module")
def vulndb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture advisory database, built once for both databases' servers."""
    return build_advisories(tmp_path_factory.mktemp("advisories"))


@pytest.fixture(scope="module", params=DATABASES)
def world(request: pytest.FixtureRequest, module_factory: MoorageFactory, vulndb: Path) -> Iterator[World]:
    server = module_factory(
        database=request.param,
        env={
            "MOORAGE_SCANNER__SCAN_ON_PUSH": "true",
            "MOORAGE_SCANNER__VULNDB_PATH": str(vulndb),
            "MOORAGE_SCANNER__PULL_POLICY_CACHE_SECONDS": "0",
        },
    )
    account = new_account(server, "hss-details")
    client = hss_client(server, account.keys)
    with si.registry_client(server.base_url, account.account.name, account.account.password) as registry:
        risky = push_and_wait(client, registry, ORG, "risky", "1", risky_image())
        clean = push_and_wait(client, registry, ORG, "clean", "1", clean_image())
    yield World(server, account, client, risky, clean)


def listed(answer: Any) -> list[Any]:
    """The data list of an answer, each item checked against its model."""
    check_types(answer.data_list[0]) if answer.data_list else None
    assert isinstance(answer.total_num, int)
    return list(answer.data_list)


def test_vulnerabilities_of_an_image(world: World) -> None:
    image_id = str(world.risky.row_id)
    vulns = listed(
        world.client.list_image_vulnerabilities(
            hss.ListImageVulnerabilitiesRequest(image_id=image_id, image_type="private_image", limit=50)
        )
    )
    assert [(v.vul_id, v.app_name, v.version, v.repair_necessity) for v in vulns] == [
        ("CVE-2031-0002", "urllib3", "1.26.0", "immediate_repair"),
        ("CVE-2031-0001", "requests", "2.30.0", "delay_repair"),
    ]
    assert vulns[0].solution == "Upgrade urllib3 to 2.0.0 or later." and vulns[0].position.startswith("sha256:")
    assert "urllib3" in vulns[0].description

    def ids(**filters: Any) -> list[str]:
        answer = world.client.list_image_vulnerabilities(
            hss.ListImageVulnerabilitiesRequest(image_id=image_id, limit=50, **filters)
        )
        return [v.vul_id for v in answer.data_list]

    assert ids(repair_necessity="delay_repair") == ["CVE-2031-0001"]
    assert ids(vul_id="GHSA-hss1-0002") == ["CVE-2031-0002"]  # a part of an alias
    assert ids(app_name="REQUE") == ["CVE-2031-0001"]
    assert ids(type="linux_vul") == [] and len(ids(type="app_vul")) == 2
    assert ids(handle_status="handled") == [] and len(ids(handle_status="unhandled")) == 2
    second = world.client.list_image_vulnerabilities(
        hss.ListImageVulnerabilitiesRequest(image_id=image_id, offset=1, limit=1)
    )
    assert second.total_num == 2 and [v.vul_id for v in second.data_list] == ["CVE-2031-0001"]
    by_digest = world.client.list_image_vulnerabilities(
        hss.ListImageVulnerabilitiesRequest(image_id=world.risky.image.digest)
    )
    assert by_digest.total_num == 2
    assert (
        world.client.list_image_vulnerabilities(
            hss.ListImageVulnerabilitiesRequest(image_id=str(world.clean.row_id))
        ).total_num
        == 0
    )
    with pytest.raises(ClientRequestException) as bad:
        world.client.list_image_vulnerabilities(
            hss.ListImageVulnerabilitiesRequest(image_id=image_id, repair_necessity="soon")
        )
    assert bad.value.status_code == 400 and bad.value.error_code == "HSS.1001"


def test_naming_fields_narrow_an_image_named_by_digest(world: World) -> None:
    """By digest, the query's naming fields must agree: ``tag_name`` in some operations, ``image_version``
    in others (both read by one FastAPI dependency each); a wrong one names no image (404)."""
    row = world.client.list_registry_images(hss.ListRegistryImagesRequest(image_name="risky", limit=10)).data_list[0]
    named = {"image_type": "private_image", "namespace": ORG, "image_name": "risky"}
    calls = [
        (world.client.list_image_apps, hss.ListImageAppsRequest, "tag_name"),
        (world.client.list_image_vulnerabilities, hss.ListImageVulnerabilitiesRequest, "tag_name"),
        (world.client.list_image_sensitive, hss.ListImageSensitiveRequest, "image_version"),
        (world.client.list_image_risk_configs, hss.ListImageRiskConfigsRequest, "image_version"),
    ]
    for call, request, tag_field in calls:
        assert call(request(image_id=row.image_digest, **named, **{tag_field: "1"})).total_num > 0, call
        for wrong in ({tag_field: "2"}, {"namespace": "elsewhere", tag_field: "1"}):
            with pytest.raises(ClientRequestException) as unknown:
                call(request(image_id=row.image_digest, **{**named, **wrong}))
            assert unknown.value.status_code == 404, (call, wrong)


def test_apps_files_and_statistics(world: World) -> None:
    image_id = str(world.risky.row_id)
    apps = listed(world.client.list_image_apps(hss.ListImageAppsRequest(image_id=image_id, limit=50)))
    assert {(a.app_name, a.app_version, a.vul_num) for a in apps} == {
        ("requests", "2.30.0", 1),
        ("urllib3", "1.26.0", 1),
    }
    assert all(a.app_type == "pypi" for a in apps)
    only = world.client.list_image_apps(hss.ListImageAppsRequest(image_id=image_id, app_name="urllib"))
    assert [a.app_name for a in only.data_list] == ["urllib3"]

    files = listed(world.client.list_image_files(hss.ListImageFilesRequest(image_id=image_id, limit=200)))
    paths = [f.file_path for f in files]
    assert paths == sorted(paths) and "/srv/app/.env" in paths and "/etc/shadow" in paths
    env = next(f for f in files if f.file_path == "/srv/app/.env")
    assert env.file_name == ".env" and env.size > 40
    named = world.client.list_image_files(hss.ListImageFilesRequest(image_id=image_id, file_name="eicar"))
    assert [f.file_path for f in named.data_list] == ["/tmp/eicar.com"]
    stat = world.client.show_image_files_stat(hss.ShowImageFilesStatRequest(image_id=image_id))
    assert stat.total_files_num == len(files) and stat.total_files_size == sum(f.size for f in files)
    page = world.client.list_image_files(hss.ListImageFilesRequest(image_id=image_id, offset=2, limit=2))
    assert page.total_num == len(files) and [f.file_path for f in page.data_list] == paths[2:4]


def test_malware_sensitive_information_and_base_image(world: World) -> None:
    image_id = str(world.risky.row_id)
    malware = listed(world.client.list_image_malware(hss.ListImageMalwareRequest(image_id=image_id)))
    assert [(m.file_path, m.file_name) for m in malware] == [("/tmp/eicar.com", "eicar.com")]
    assert malware[0].size == 68 and "EICAR" in malware[0].description.upper()
    assert (
        world.client.list_image_malware(hss.ListImageMalwareRequest(image_id=image_id, file_name="nothing")).total_num
        == 0
    )

    sensitive = listed(world.client.list_image_sensitive(hss.ListImageSensitiveRequest(image_id=image_id)))
    assert {s.name for s in sensitive} == {"secret.aws-access-key-id", "secret.aws-secret-access-key"}
    assert all(s.file_path == "/srv/app/.env" and s.handle_status == "unhandled" for s in sensitive)
    assert all("*" in s.content for s in sensitive)
    assert (
        world.client.list_image_sensitive(hss.ListImageSensitiveRequest(image_id=image_id, file_path="/etc")).total_num
        == 0
    )

    base = listed(world.client.list_image_basic_image(hss.ListImageBasicImageRequest(image_id=image_id)))
    assert [(b.os_name, b.os_version) for b in base] == [("Moorage Test 1", "1")]
    non_compliant = world.client.list_image_non_compliant_app(hss.ListImageNonCompliantAppRequest(image_id=image_id))
    assert non_compliant.total_num == len(listed(non_compliant))


def test_baseline_of_an_image(world: World) -> None:
    image_id = str(world.risky.row_id)
    configs = listed(
        world.client.list_image_risk_configs(
            hss.ListImageRiskConfigsRequest(image_type="private_image", image_id=image_id, limit=50)
        )
    )
    by_name = {c.check_name: c for c in configs}
    accounts = by_name["Accounts and passwords"]
    assert accounts.severity == "High" and accounts.failed_rule_num >= 2 and accounts.check_rule_num == 5
    assert by_name["Image configuration"].failed_rule_num == 1 and by_name["SSH"].severity == "Security"
    assert configs[0].severity == "High"
    medium = world.client.list_image_risk_configs(
        hss.ListImageRiskConfigsRequest(image_type="private_image", image_id=image_id, severity="Medium")
    )
    assert {c.check_name for c in medium.data_list} == {"Image configuration"}

    rules = listed(
        world.client.list_image_risk_config_rules(
            hss.ListImageRiskConfigRulesRequest(
                image_type="private_image", image_id=image_id, check_name="Accounts and passwords", limit=50
            )
        )
    )
    results = {r.check_rule_id: r.scan_result for r in rules}
    assert results["baseline.empty-password"] == "failed" and results["baseline.weak-password-hash"] == "failed"
    assert results["baseline.extra-uid0-account"] == "pass" and rules[0].scan_result == "failed"
    failed = world.client.list_image_risk_config_rules(
        hss.ListImageRiskConfigRulesRequest(
            image_type="private_image", image_id=image_id, check_name="Accounts and passwords", result_type="pass"
        )
    )
    assert all(r.scan_result == "pass" for r in failed.data_list) and failed.total_num == len(rules) - 2 - (
        results["baseline.weak-password"] == "failed"
    )

    detail = world.client.show_image_check_rule_detail(
        hss.ShowImageCheckRuleDetailRequest(
            image_type="private_image", image_id=image_id, check_rule_id="config.runs-as-root"
        )
    )
    assert "USER" in detail.remediation and detail.reference
    check_types(detail)
    assert detail.check_info_list[0].current_value != "compliant"
    passed = world.client.show_image_check_rule_detail(
        hss.ShowImageCheckRuleDetailRequest(
            image_type="private_image", image_id=image_id, check_rule_id="baseline.sshd-root-login"
        )
    )
    assert passed.check_info_list[0].current_value == "compliant"
    with pytest.raises(ClientRequestException) as unknown:
        world.client.show_image_check_rule_detail(
            hss.ShowImageCheckRuleDetailRequest(
                image_type="private_image", image_id=image_id, check_rule_id="no.such-rule"
            )
        )
    assert unknown.value.status_code == 404


def test_passwords_build_commands_and_statistic(world: World) -> None:
    users = listed(world.client.list_image_weak_pwd_users(hss.ListImageWeakPwdUsersRequest(image_type="private_image")))
    assert [(u.user_name, u.image_name, u.desensitized_weak_passwords) for u in users] == [
        ("guest", "risky", "(empty)")
    ]
    assert users[0].duration > 365  # changed on day 19000 (2022)
    assert (
        world.client.list_image_weak_pwd_users(
            hss.ListImageWeakPwdUsersRequest(image_type="private_image", user_name="root")
        ).total_num
        == 0
    )

    complexity = listed(
        world.client.list_image_pwd_complexity(
            hss.ListImagePwdComplexityRequest(image_type="private_image", namespace=ORG)
        )
    )
    risky = next(c for c in complexity if c.image_name == "risky")
    assert (risky.min_length, risky.uppercase_letter) == (False, False) and "minlen" in risky.suggestion

    risks = listed(
        world.client.list_image_build_command_risks(hss.ListImageBuildCommandRisksRequest(image_type="private_image"))
    )
    assert [(r.rule_id, r.image_num, r.risk_level) for r in risks] == [("history.pipe-to-shell", 1, "Medium")]
    images = listed(
        world.client.list_image_build_command_risks_images(
            hss.ListImageBuildCommandRisksImagesRequest(image_type="private_image", rule_id="history.pipe-to-shell")
        )
    )
    assert [i.image_name for i in images] == ["risky"]
    assert "curl" in images[0].risk_detail_info.risk_list[0].build_instruction
    assert images[0].risk_detail_info.risk_num == 1
    assert (
        world.client.list_image_build_command_risks(
            hss.ListImageBuildCommandRisksRequest(image_type="private_image", image_id=str(world.clean.row_id))
        ).total_num
        == 0
    )

    stat = world.client.show_image_baseline_statistic(hss.ShowImageBaselineStatisticRequest(image_type="private_image"))
    assert (stat.image_weak_pwd, stat.security_check) == (1, 2) and stat.pwd_policy >= 1


def general_ids(client: hss.HssClient, **filters: Any) -> list[str]:
    answer = client.list_general_image_vuls(hss.ListGeneralImageVulsRequest(limit=50, **filters))
    return [v.vul_id for v in answer.data_list]


def row_counts(client: hss.HssClient, name: str) -> tuple[int, str]:
    rows = client.list_registry_images(hss.ListRegistryImagesRequest(image_name=name, limit=10)).data_list
    return rows[0].vul_num, rows[0].severity_level


def test_cross_image_lists_and_handling(world: World) -> None:
    account = new_account(world.server, "hss-handling")
    client = hss_client(world.server, account.keys)
    org = "handling-org"
    with si.registry_client(world.server.base_url, account.account.name, account.account.password) as registry:
        risky = push_and_wait(client, registry, org, "app", "1", risky_image())
        push_and_wait(client, registry, org, "clean", "1", clean_image())

        with pytest.raises(ClientRequestException) as hidden:  # another account's image does not exist for it
            client.list_image_vulnerabilities(hss.ListImageVulnerabilitiesRequest(image_id=str(world.risky.row_id)))
        assert hidden.value.status_code == 404 and hidden.value.error_code == "HSS.1004"
        with pytest.raises(ClientRequestException) as foreign:  # nor in its reports
            client.show_image_security_report_statistic(
                hss.ShowImageSecurityReportStatisticRequest(
                    security_report_type="vulnerability",
                    body=hss.BatchExportSWRBaselineInfoRequestInfo(image_id_list=[str(world.risky.row_id)]),
                )
            )
        assert foreign.value.status_code == 404

        general = listed(client.list_general_image_vuls(hss.ListGeneralImageVulsRequest(limit=50)))
        assert [(v.vul_id, v.severity_level, v.image_num, v.type) for v in general] == [
            ("CVE-2031-0002", "Critical", 1, "app_vul"),
            ("CVE-2031-0001", "Medium", 1, "app_vul"),
        ]
        assert general[0].cve_list[0].cve_id == "CVE-2031-0002" and general[0].max_cvss_score == 9.1
        assert general[0].vul_name == "urllib3 request smuggling" and general[0].solution_detail
        assert general_ids(client, severity_level="Medium") == ["CVE-2031-0001"]
        assert general_ids(client, cve_id="CVE-2031-0002") == ["CVE-2031-0002"]
        assert general_ids(client, vul_name="smuggling") == ["CVE-2031-0002"]
        assert general_ids(client, type="linux_vul") == []
        second = client.list_general_image_vuls(hss.ListGeneralImageVulsRequest(offset=1, limit=1))
        assert second.total_num == 2 and [v.vul_id for v in second.data_list] == ["CVE-2031-0001"]

        global_vulns = listed(client.list_global_vulnerabilities(hss.ListGlobalVulnerabilitiesRequest(limit=50)))
        assert {(v.vul_id, v.history_number, v.undeal_number) for v in global_vulns} == {
            ("CVE-2031-0002", 1, 1),
            ("CVE-2031-0001", 1, 1),
        }
        assert [
            v.vul_id
            for v in client.list_global_vulnerabilities(
                hss.ListGlobalVulnerabilitiesRequest(repair_necessity="immediate_repair")
            ).data_list
        ] == ["CVE-2031-0002"]

        repos = listed(client.list_vul_repo_image(hss.ListVulRepoImageRequest(vul_id="CVE-2031-0002")))
        assert [(r.namespace, r.image_name, r.app_name, r.version, r.tag_count) for r in repos] == [
            (org, "app", "urllib3", "1.26.0", 1)
        ]
        assert repos[0].data_list[0].tag_name == "1" and repos[0].data_list[0].size > 0
        affected = listed(client.list_vul_affect_images(hss.ListVulAffectImagesRequest(vul_id="CVE-2031-0002")))
        assert [(a.image_name, a.status, a.organization) for a in affected] == [("app", "unhandled", org)]
        apps = listed(
            client.list_vul_affect_image_apps(
                hss.ListVulAffectImageAppsRequest(image_id=str(risky.row_id), vul_id="CVE-2031-0002")
            )
        )
        assert [(a.app_name, a.paths[0].app_version, a.paths[0].status) for a in apps] == [
            ("urllib3", "1.26.0", "unhandled")
        ]
        cves = listed(client.list_vulnerability_cve(hss.ListVulnerabilityCveRequest(vul_id="GHSA-hss1-0002-0002")))
        assert [(c.cve_id, c.cvss_score) for c in cves] == [("CVE-2031-0002", 9.1)]

        global_apps = listed(client.list_global_image_apps(hss.ListGlobalImageAppsRequest(app_name="req", limit=50)))
        assert sorted((a.image_name, a.app_version, a.vul_num) for a in global_apps) == [
            ("app", "2.30.0", 1),
            ("clean", "2.31.0", 0),
        ]
        malware = listed(client.list_global_malware(hss.ListGlobalMalwareRequest()))
        assert [(m.image_name, m.file_path) for m in malware] == [("app", "/tmp/eicar.com")]
        files = listed(client.list_global_image_files(hss.ListGlobalImageFilesRequest(file_name=".env")))
        assert [f.file_path for f in files] == ["/srv/app/.env"]

        # A pull refused for the critical vulnerability until it is ignored.
        api = policy_api(world.server, account)
        with api:
            assert (
                api.put(
                    f"/organization-policies/{org}",
                    json={"block_severity": "critical", "allowlist": ["baseline.empty-password"]},
                ).status_code
                == 200
            )
            manifest = f"/v2/{org}/app/manifests/1"
            accept = {"Accept": si.OCI_MANIFEST}
            refused = registry.get(manifest, headers=accept)
            assert refused.status_code == 403 and "CVE-2031-0002" in refused.text

            body = hss.HandleImageVulnerabilityRequestBody(
                operate_type="ignore",
                select_type="specific_vul_all_image",
                vul_id_list=["CVE-2031-0002"],
                remark="accepted: not reachable",
            )
            preview = client.list_image_handle_affect_vulnerabilities(
                hss.ListImageHandleAffectVulnerabilitiesRequest(body=body)
            )
            assert (preview.total_vul_num, preview.vul_num, preview.image_num) == (1, 1, 1)
            check_types(preview.data_list[0])
            assert row_counts(client, "app")[0] == 2
            client.handle_image_vulnerability(hss.HandleImageVulnerabilityRequest(body=body))

            assert row_counts(client, "app")[0] == 1
            assert registry.get(manifest, headers=accept).status_code == 200
            assert general_ids(client, handle_status="unhandled") == ["CVE-2031-0001"]
            assert general_ids(client, handle_status="handled") == ["CVE-2031-0002"]
            handled = client.list_image_vulnerabilities(
                hss.ListImageVulnerabilitiesRequest(image_id=str(risky.row_id), handle_status="handled")
            )
            assert [v.vul_id for v in handled.data_list] == ["CVE-2031-0002"]
            assert (
                client.list_vul_affect_images(
                    hss.ListVulAffectImagesRequest(vul_id="CVE-2031-0002", is_handled=True)
                ).total_num
                == 1
            )
            for status, expected in (("vul_status_ignored", 1), ("vul_status_unfix", 0)):
                assert (
                    client.list_vul_affect_images(
                        hss.ListVulAffectImagesRequest(vul_id="CVE-2031-0002", status=status)
                    ).total_num
                    == expected
                ), status
            assert (
                client.list_vul_affect_images(
                    hss.ListVulAffectImagesRequest(vul_id="CVE-2031-0002", status="vul_status_unfix", is_handled=True)
                ).total_num
                == 0
            )
            with pytest.raises(ClientRequestException) as unknown:
                client.list_vul_affect_images(hss.ListVulAffectImagesRequest(vul_id="CVE-2031-0002", status="fixed"))
            assert unknown.value.status_code == 400
            assert (
                world.client.list_registry_images(hss.ListRegistryImagesRequest(image_name="risky"))
                .data_list[0]
                .vul_num
                == 2
            )  # the other account is not affected

            client.handle_image_vulnerability(
                hss.HandleImageVulnerabilityRequest(
                    body=hss.HandleImageVulnerabilityRequestBody(
                        operate_type="not_ignore",
                        select_type="image_view",
                        remark="fix it after all",
                        image_data_list=[
                            hss.HandleImageVulnerabilityRequestBodyImageDataList(
                                image_id=str(risky.row_id), vul_id_list=["CVE-2031-0002"]
                            )
                        ],
                    )
                )
            )
            assert row_counts(client, "app")[0] == 2
            assert registry.get(manifest, headers=accept).status_code == 403

        history = listed(client.list_general_image_vul_operations(hss.ListGeneralImageVulOperationsRequest()))
        assert [(h.handle_type, h.remark, h.app_name, h.image_name) for h in history] == [
            ("not_ignore", "fix it after all", "urllib3", "app"),
            ("ignore", "accepted: not reachable", "urllib3", "app"),
        ]
        assert history[0].user_name == account.account.name and history[0].handle_time >= history[1].handle_time
        assert (
            client.list_general_image_vul_operations(
                hss.ListGeneralImageVulOperationsRequest(handle_type="ignore")
            ).total_num
            == 1
        )
        assert (
            client.list_general_image_vul_operations(
                hss.ListGeneralImageVulOperationsRequest(image_name="nothing")
            ).total_num
            == 0
        )
        with pytest.raises(ClientRequestException) as bad:
            client.handle_image_vulnerability(
                hss.HandleImageVulnerabilityRequest(
                    body=hss.HandleImageVulnerabilityRequestBody(operate_type="manual_repair", select_type="all_vul")
                )
            )
        assert bad.value.status_code == 400


def test_whitelists_sensitive_information_and_weak_passwords(world: World) -> None:
    account = new_account(world.server, "hss-whitelists")
    client = hss_client(world.server, account.keys)
    org = "wl-org"
    image = risky_image("wl")
    with si.registry_client(world.server.base_url, account.account.name, account.account.password) as registry:
        one = push_and_wait(client, registry, org, "one", "1", image)
        push_and_wait(client, registry, org, "two", "1", image)

    def counts() -> tuple[int, int]:
        return row_counts(client, "one")[0], row_counts(client, "two")[0]

    def add(rule_type: str, vul_id: str = "CVE-2031-0002", **body: Any) -> None:
        client.add_image_white_lists(
            hss.AddImageWhiteListsRequest(
                global_image_type="registry",
                type="vulnerability",
                body=hss.AddImageWhiteListsRequestBody(
                    vul_type="app_vul", vul_ids=[vul_id], rule_type=rule_type, description="reviewed", **body
                ),
            )
        )

    assert counts() == (2, 2)
    with (
        policy_api(world.server, account) as api,
        si.registry_client(world.server.base_url, account.account.name, account.account.password) as registry,
    ):
        assert (
            api.put(
                f"/organization-policies/{org}",
                json={"block_severity": "critical", "allowlist": ["baseline.empty-password"]},
            ).status_code
            == 200
        )
        manifest = f"/v2/{org}/one/manifests/1"
        assert registry.get(manifest, headers={"Accept": si.OCI_MANIFEST}).status_code == 403
        add("all_images")
        assert registry.get(manifest, headers={"Accept": si.OCI_MANIFEST}).status_code == 200  # whitelisted
    assert counts() == (1, 1)
    lists = listed(client.list_image_white_lists(hss.ListImageWhiteListsRequest(global_image_type="registry")))
    assert [(w.vul_id, w.rule_type, w.vul_name, w.description) for w in lists] == [
        ("CVE-2031-0002", "all_images", "urllib3 request smuggling", "reviewed")
    ]
    assert [(c.cve_id, c.cvss) for c in lists[0].cves] == [("CVE-2031-0002", 9.1)]
    whitelist_id = lists[0].id

    image_ref = hss.AddImageWhiteListsRequestBodyImageInfo(id=one.row_id, image_name="one")
    client.change_image_white_list(
        hss.ChangeImageWhiteListRequest(
            id=whitelist_id,
            body=hss.ChangeImageWhiteListRequestBody(
                rule_type="specific_images", image_info=[image_ref], description="only one"
            ),
        )
    )
    assert counts() == (1, 2)
    detail = client.show_image_white_list_detail(hss.ShowImageWhiteListDetailRequest(id=whitelist_id))
    assert detail.rule_type == "specific_images" and [(i.id, i.image_name) for i in detail.image_info] == [
        (one.row_id, "one")
    ]
    check_types(detail)
    client.change_image_white_list(
        hss.ChangeImageWhiteListRequest(
            id=whitelist_id,
            body=hss.ChangeImageWhiteListRequestBody(
                rule_type="specific_image_types",
                query_info=hss.AddImageWhiteListsRequestBodyQueryInfo(image_type="harbor"),
            ),
        )
    )
    assert counts() == (2, 2)
    client.delete_image_white_lists(
        hss.DeleteImageWhiteListsRequest(body=hss.DeleteImageWhiteListsRequestBody(ids=[whitelist_id]))
    )
    assert client.list_image_white_lists(hss.ListImageWhiteListsRequest()).total_num == 0

    add(
        "specific_image_types",
        "GHSA-hss1-0001-0001",  # an alias of CVE-2031-0001
        query_info=hss.AddImageWhiteListsRequestBodyQueryInfo(image_type="private_image"),
    )
    assert counts() == (1, 1)
    assert [
        v.vul_id
        for v in client.list_image_vulnerabilities(
            hss.ListImageVulnerabilitiesRequest(image_id=str(one.row_id), handle_status="handled")
        ).data_list
    ] == ["CVE-2031-0001"]
    for bad, status in (
        ({"rule_type": "some_images"}, 400),
        (
            {
                "rule_type": "specific_images",
                "image_info": [hss.AddImageWhiteListsRequestBodyImageInfo(id=world.risky.row_id)],
            },
            404,
        ),
    ):
        with pytest.raises(ClientRequestException) as refused:
            client.add_image_white_lists(
                hss.AddImageWhiteListsRequest(body=hss.AddImageWhiteListsRequestBody(vul_ids=["CVE-2031-0002"], **bad))
            )
        assert refused.value.status_code == status

    # Sensitive information: ignoring a finding, and the file-path allowlist.
    def sensitive(**filters: Any) -> list[Any]:
        return list(
            client.list_image_sensitive(hss.ListImageSensitiveRequest(image_id=str(one.row_id), **filters)).data_list
        )

    found = sensitive()
    assert len(found) == 2
    everywhere = listed(client.list_image_sensitive_info(hss.ListImageSensitiveInfoRequest(image_type="private_image")))
    assert sorted(s.sensitive_info_id for s in everywhere) == sorted(s.sensitive_info_id for s in found)
    assert client.list_image_sensitive_info(hss.ListImageSensitiveInfoRequest(image_type="harbor")).total_num == 0
    client.change_sensitive_info(
        hss.ChangeSensitiveInfoRequest(
            body=hss.ChangeSensitiveInfoRequestInfo(sensitive_info_id=found[0].sensitive_info_id, operate_type="ignore")
        )
    )
    assert [s.sensitive_info_id for s in sensitive(handle_status="handled")] == [found[0].sensitive_info_id]
    assert sensitive(handle_status="handled")[0].operate_accept == "ignore"
    client.change_sensitive_info(
        hss.ChangeSensitiveInfoRequest(
            body=hss.ChangeSensitiveInfoRequestInfo(
                sensitive_info_id=found[0].sensitive_info_id, operate_type="do_not_ignore"
            )
        )
    )
    assert sensitive(handle_status="handled") == []
    with pytest.raises(ClientRequestException) as missing:
        client.change_sensitive_info(
            hss.ChangeSensitiveInfoRequest(
                body=hss.ChangeSensitiveInfoRequestInfo(sensitive_info_id="0" * 64, operate_type="ignore")
            )
        )
    assert missing.value.status_code == 404

    client.change_file_path_white_lists(
        hss.ChangeFilePathWhiteListsRequest(body=hss.ChangeFilePathWhiteDetailRequestInfo(customized_path=["/srv/app"]))
    )
    assert sensitive() == []
    assert client.list_image_sensitive_info(hss.ListImageSensitiveInfoRequest()).total_num == 0
    paths = client.show_file_path_white_lists(hss.ShowFilePathWhiteListsRequest())
    assert paths.customized_path == ["/srv/app"] and "/proc/" in paths.default_path
    assert client.show_file_path_white_detail(hss.ShowFilePathWhiteDetailRequest(file_path="srv")).default_path == []
    client.change_file_path_white_detail(
        hss.ChangeFilePathWhiteDetailRequest(
            body=hss.ChangeFilePathWhiteDetailRequestInfo(customized_path=["/srv/*/nothing"])
        )
    )
    assert len(sensitive()) == 2
    with pytest.raises(ClientRequestException) as relative:
        client.change_file_path_white_lists(
            hss.ChangeFilePathWhiteListsRequest(
                body=hss.ChangeFilePathWhiteDetailRequestInfo(customized_path=["srv/app"])
            )
        )
    assert relative.value.status_code == 400

    # Extended weak passwords are tried against the images' password hashes.
    def weak_users() -> list[tuple[str, str]]:
        answer = client.list_image_weak_pwd_users(hss.ListImageWeakPwdUsersRequest(namespace=org))
        return sorted((u.image_name, u.user_name) for u in answer.data_list)

    assert weak_users() == [("one", "guest"), ("two", "guest")]
    assert client.show_extended_weak_password(hss.ShowExtendedWeakPasswordRequest()).extended_weak_password == []
    client.change_extended_weak_password(
        hss.ChangeExtendedWeakPasswordRequest(
            body=hss.ChangeExtendedWeakPasswordRequestInfo(extended_weak_password=[EXTENDED_PASSWORD, "other"])
        )
    )
    assert client.show_extended_weak_password(hss.ShowExtendedWeakPasswordRequest()).extended_weak_password == [
        EXTENDED_PASSWORD,
        "other",
    ]
    assert weak_users() == [("one", "guest"), ("one", "root"), ("two", "guest"), ("two", "root")]
    assert world.client.list_image_weak_pwd_users(hss.ListImageWeakPwdUsersRequest()).total_num == 1  # per account


def test_statistics_and_report_exports(world: World) -> None:
    assets = world.client.show_image_asset_statistics(hss.ShowImageAssetStatisticsRequest())
    assert (assets.registry_num, assets.local_num, assets.cicd_num) == (2, 0, 0)
    scans = world.client.show_image_pay_per_scan_statistics(hss.ShowImagePayPerScanStatisticsRequest())
    assert scans.repository_scan_num == 2 and scans.total.registry == 2 and scans.unscan.registry == 0
    assert scans.high_risk.registry == 1 and scans.has_risk.registry == 2  # the clean image runs as root
    check_types(scans)

    def statistic(report_type: str, **body: Any) -> int:
        answer = world.client.show_image_security_report_statistic(
            hss.ShowImageSecurityReportStatisticRequest(
                security_report_type=report_type, body=hss.BatchExportSWRBaselineInfoRequestInfo(**body)
            )
        )
        return int(answer.total_num)

    assert statistic("vulnerability", operate_all=True) == 2
    assert statistic("vulnerability", operate_all=True, image_name="clean") == 0
    assert statistic("malwares", image_id_list=[str(world.risky.row_id)]) == 1
    assert statistic("apps", operate_all=True) == 3  # requests and urllib3, and requests in the clean image
    files = world.client.show_image_files_stat(hss.ShowImageFilesStatRequest(image_id=str(world.risky.row_id)))
    assert statistic("files", image_id_list=[str(world.risky.row_id)]) == files.total_files_num
    with pytest.raises(ClientRequestException) as bad:
        statistic("everything", operate_all=True)
    assert bad.value.status_code == 400

    task = world.client.export_image_security_report_task(
        hss.ExportImageSecurityReportTaskRequest(
            body=hss.ExportImageSecurityReportTaskRequestInfo(security_report_type="vulnerability", operate_all=True)
        )
    )
    baseline = world.client.batch_export_baseline_task(
        hss.BatchExportBaselineTaskRequest(
            export_size=100, body=hss.BatchExportSWRBaselineInfoRequestInfo(image_id_list=[str(world.risky.row_id)])
        )
    )
    assert baseline.record_total_num >= 3  # empty password, MD5 hash, runs as root
    with world.api() as api:
        info = api.get(f"/export-tasks/{task.task_id}").json()
        assert (info["record_num"], info["image_num"], info["status"], info["kind"]) == (
            2,
            2,
            "success",
            "security-report",
        )
        page = api.get(f"/export-tasks/{task.task_id}/file")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert page.headers["content-disposition"].endswith('.html"')
        document = ElementTree.fromstring(page.content)  # well-formed
        cells = [c.text for c in document.iter("{http://www.w3.org/1999/xhtml}td")]
        assert "CVE-2031-0002" in cells and "urllib3" in cells
        spreadsheet = api.get(f"/export-tasks/{task.task_id}/file", params={"format": "csv"})
        rows = list(csv.reader(io.StringIO(spreadsheet.content.decode("utf-8-sig"))))
        assert rows[0][:5] == ["namespace", "image_name", "image_version", "image_digest", "vul_id"]
        assert sorted(r[4] for r in rows[1:]) == ["CVE-2031-0001", "CVE-2031-0002"]
        checks = list(csv.reader(io.StringIO(api.get(f"/export-tasks/{baseline.task_id}/file").text.lstrip("\ufeff"))))
        assert len(checks) == baseline.record_total_num + 1
        assert {"baseline.empty-password", "config.runs-as-root"} <= {r[5] for r in checks[1:]}
        assert api.get(f"/export-tasks/{task.task_id}/file", params={"format": "pdf"}).status_code == 400


def test_handling_a_multi_architecture_image(world: World) -> None:
    account = new_account(world.server, "hss-multiarch")
    client = hss_client(world.server, account.keys)
    platforms = [risky_image("amd"), clean_image("arm")]
    index = si.index(platforms)
    with si.registry_client(world.server.base_url, account.account.name, account.account.password) as registry:
        for platform in platforms:
            si.push(registry, "multi-org/app", platform.digest, platform)
        multi = push_and_wait(client, registry, "multi-org", "app", "1", index)

    def parent() -> Any:
        return client.list_registry_images(hss.ListRegistryImagesRequest(namespace="multi-org")).data_list[0]

    assert (parent().is_multiple_arch, parent().vul_num) == (True, 2)
    vulns = client.list_image_vulnerabilities(hss.ListImageVulnerabilitiesRequest(image_id=str(multi.row_id)))
    assert [v.vul_id for v in vulns.data_list] == ["CVE-2031-0002", "CVE-2031-0001"]  # the platforms' union
    client.handle_image_vulnerability(
        hss.HandleImageVulnerabilityRequest(
            body=hss.HandleImageVulnerabilityRequestBody(
                operate_type="ignore",
                select_type="image_view",
                remark="multi",
                image_data_list=[
                    hss.HandleImageVulnerabilityRequestBodyImageDataList(
                        image_id=str(multi.row_id), vul_id_list=["CVE-2031-0002"]
                    )
                ],
            )
        )
    )
    row = parent()
    assert row.vul_num == 1 and sorted(c.vul_num for c in row.association_images) == [0, 1]
    assert [
        v.vul_id
        for v in client.list_image_vulnerabilities(
            hss.ListImageVulnerabilitiesRequest(image_id=str(multi.row_id), handle_status="handled")
        ).data_list
    ] == ["CVE-2031-0002"]
    client.add_image_white_lists(
        hss.AddImageWhiteListsRequest(
            body=hss.AddImageWhiteListsRequestBody(
                vul_ids=["CVE-2031-0001"],
                rule_type="specific_images",
                image_info=[hss.AddImageWhiteListsRequestBodyImageInfo(id=multi.row_id)],
            )
        )
    )
    assert parent().vul_num == 0
