"""Host-name tricks against virtual hosting: a tenant's Enterprise Edition instance must never answer
for the shared registry, whatever spelling of the registry's own names (case, trailing dot, other
spellings of its address, IPv4-mapped IPv6, default ports, localhost aliases) the tenant claims
through the official SDK or a row stored before the rules existed; names are governed by the
operator's allowlist, and one instance cannot claim a name overlapping another account's.

One server per module (SQLite), listening on 127.0.0.1 (the shared registry) and 127.0.0.5, which
the operator's allowlist dedicates to instances together with names under ``tenants.example.test``.
"""

from __future__ import annotations

import contextlib
import secrets
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkswr.v2 import (
    AddDomainNameRequest,
    AddDomainNameRequestBody,
    CreateInstanceRequest,
    CreateInstanceRequestBody,
    ListDomainNamesRequest,
    SwrClient,
)

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.enterprise.support import sdk_client, upload
from tests.support.accounts import Account, create_user, iam_token
from tests.support.servers import ServerProcess, start_moorage

ADMIN = Account(ADMIN_USER, ADMIN_PASSWORD, ADMIN_USER)
INSTANCE_ADDRESS = "127.0.0.5"
VICTIM_REPOSITORY = "victim-team/app"


@dataclass
class Site:
    """The server, the victim's image in the shared registry, and an attacker tenant with an instance."""

    server: ServerProcess
    attacker: Account
    attacker_client: SwrClient
    attacker_instance: str
    victim_client: SwrClient

    @property
    def port(self) -> int:
        return self.server.port


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data_dir = tmp_path_factory.mktemp("hosts")
    env = {
        "MOORAGE_DATABASE_URL": f"sqlite:///{data_dir / 'moorage.db'}",
        "MOORAGE_DATA_DIR": str(data_dir),
        "MOORAGE_AUTH__ADMIN_USER": ADMIN_USER,
        "MOORAGE_AUTH__ADMIN_PASSWORD": ADMIN_PASSWORD,
        "MOORAGE_ACCESS_LOG": "false",
        "MOORAGE_ENTERPRISE__HOST_CACHE_SECONDS": "0",
        "MOORAGE_ENTERPRISE__ALLOWED_DOMAIN_SUFFIXES": f"{INSTANCE_ADDRESS}, tenants.example.test",
    }
    server = start_moorage(data_dir, env=env, extra_args=["--host", INSTANCE_ADDRESS], wait=False)
    try:
        server.wait_ready(timeout=120)
        upload(server.address, VICTIM_REPOSITORY, {"v1": "the victim's image"})
        attacker = create_user(server, f"mallory{secrets.token_hex(3)}", admin=True)
        attacker_client = sdk_client(server, attacker)
        created = attacker_client.create_instance(
            CreateInstanceRequest(
                body=CreateInstanceRequestBody(
                    name="takeover",
                    spec="swr.ee.professional",
                    charge_mode="postPaid",
                    vpc_id="vpc",
                    subnet_id="subnet",
                )
            )
        )
        yield Site(server, attacker, attacker_client, str(created.instance_id), sdk_client(server, ADMIN))
    finally:
        server.stop()


def _own_spellings(port: int) -> list[str]:
    """Names that are the shared registry's own (its external URL is http://127.0.0.1:<port>)."""
    return [
        f"localhost:{port}",
        f"LOCALHOST:{port}",
        f"localhost.:{port}",
        "localhost",
        f"127.0.0.1:{port}",
        f"127.0.0.1.:{port}",
        f"127.1:{port}",
        f"2130706433:{port}",
        f"0x7f.0.0.1:{port}",
        f"0177.0.0.1:{port}",
        f"[::ffff:127.0.0.1]:{port}",
        f"[0:0:0:0:0:FFFF:7F00:1]:{port}",
        "127.0.0.1",
        f"[::1]:{port}",
        "::1",
        f"0.0.0.0:{port}",
        f"[::]:{port}",
        "registry.localhost",
        "*.localhost",
        f"127.0.0.01:{port}",
    ]


def _domain_names(site: Site) -> list[str]:
    found = site.attacker_client.list_domain_names(ListDomainNamesRequest(instance_id=site.attacker_instance))
    return [d.domain_name for d in found.domain_name_infos]


def _add(site: Site, client: SwrClient, instance_id: str, name: str) -> ClientRequestException | None:
    try:
        client.add_domain_name(
            AddDomainNameRequest(instance_id=instance_id, body=AddDomainNameRequestBody(domain_name=name))
        )
    except ClientRequestException as exc:
        return exc
    return None


def _tags_through(site: Site, host: str) -> httpx.Response:
    """The victim lists its tags at the shared registry's address, naming ``host``."""
    return httpx.get(
        f"{site.server.base_url}/v2/{VICTIM_REPOSITORY}/tags/list",
        headers={"Host": host},
        auth=(ADMIN_USER, ADMIN_PASSWORD),
        timeout=30,
    )


def test_a_tenant_cannot_claim_any_spelling_of_the_shared_registry(site: Site) -> None:
    before = _domain_names(site)
    accepted = []
    for name in _own_spellings(site.port):
        refused = _add(site, site.attacker_client, site.attacker_instance, name)
        if refused is None:
            accepted.append(name)
            continue
        assert refused.status_code == 400, (name, refused.status_code, refused.error_msg)
        assert refused.error_code == "SVCSTG.SWR.4000014" and "shared registry" in refused.error_msg, name
    assert not accepted, f"claims of the shared registry's names were accepted: {accepted}"
    assert _domain_names(site) == before  # nothing stored
    for name in _own_spellings(site.port):  # and the shared registry still answers under every spelling
        if "*" not in name and not name.startswith("registry."):
            response = _tags_through(site, name)
            assert response.status_code == 200 and response.json()["tags"] == ["v1"], (name, response.text)


def test_names_outside_the_operator_allowlist_are_refused(site: Site) -> None:
    before = _domain_names(site)
    for name in (
        "evil.example.com",
        "*.example.com",
        "tenants.example.test",
        "*.tenants.example.test",
        f"127.0.0.6:{site.port}",
        "10.1.2.3",
        "a_b.tenants.example.test",
    ):
        refused = _add(site, site.attacker_client, site.attacker_instance, name)
        assert refused is not None and refused.status_code == 400, name
    refused = _add(site, site.attacker_client, site.attacker_instance, "evil.example.com")
    assert refused is not None and "tenants.example.test" in refused.error_msg  # says what is allowed
    assert _domain_names(site) == before


def test_allowed_names_reach_the_instance_in_every_spelling(site: Site) -> None:
    assert _add(site, site.attacker_client, site.attacker_instance, f"{INSTANCE_ADDRESS}:{site.port}") is None
    assert _add(site, site.attacker_client, site.attacker_instance, "Mallory.Tenants.Example.Test.") is None
    assert {f"{INSTANCE_ADDRESS}:{site.port}", "mallory.tenants.example.test"} <= set(_domain_names(site))
    token = iam_token(site.server, site.attacker)
    for host in (
        f"{INSTANCE_ADDRESS}:{site.port}",
        f"[::ffff:{INSTANCE_ADDRESS}]:{site.port}",
        f"127.5:{site.port}",
        "MALLORY.tenants.example.test.",
        "mallory.tenants.example.test:80",
    ):
        response = httpx.get(
            f"{site.server.base_url}/v2/manage/namespaces", timeout=30, headers={"Host": host, "X-Auth-Token": token}
        )
        assert response.status_code == 200, (host, response.text)  # the attacker's own instance answers
        victim = _tags_through(site, host)
        assert victim.status_code in (401, 403, 404), (host, victim.status_code)  # not the shared registry


def test_instances_of_two_accounts_cannot_overlap(site: Site) -> None:
    victim_instance = str(
        site.victim_client.create_instance(
            CreateInstanceRequest(
                body=CreateInstanceRequestBody(
                    name="victim-ee",
                    spec="swr.ee.professional",
                    charge_mode="postPaid",
                    vpc_id="vpc",
                    subnet_id="subnet",
                )
            )
        ).instance_id
    )
    assert _add(site, site.victim_client, victim_instance, "app.shop.tenants.example.test") is None
    for name in ("*.shop.tenants.example.test", "APP.shop.tenants.example.test.", "app.shop.tenants.example.test:8443"):
        refused = _add(site, site.attacker_client, site.attacker_instance, name)
        assert refused is not None and refused.status_code == 400 and "not available" in refused.error_msg, name
    assert _add(site, site.attacker_client, site.attacker_instance, "*.mall.tenants.example.test") is None
    refused = _add(site, site.victim_client, victim_instance, "shop.mall.tenants.example.test")
    assert refused is not None and refused.status_code == 400  # covered by the other account's wildcard
    assert _add(site, site.victim_client, victim_instance, "a.b.mall.tenants.example.test") is None  # one label only
    assert not any("shop" in n for n in _domain_names(site))


def test_stored_names_from_before_the_rules_cannot_take_the_shared_registry(site: Site) -> None:
    """Rows written straight into the database (as an older moorage accepted them) are ignored by the
    resolver when they are, or cover, the shared registry's names."""
    hostile = [
        f"localhost:{site.port}",
        f"[::ffff:127.0.0.1]:{site.port}",
        f"127.0.0.1:{site.port}",
        "localhost",
        "*.localhost",
        f"127.0.0.01:{site.port}",
        f"LOCALHOST.:{site.port}",
    ]
    database = sqlite3.connect(site.server.data_dir / "moorage.db", timeout=30)
    try:
        now = int(time.time() * 1000)
        with database:
            database.executemany(
                "INSERT INTO ee_domain_names (id, instance_id, domain_name, type, certificate_id, created_at,"
                " updated_at) VALUES (?, ?, ?, 'custom', '', ?, ?)",
                [(secrets.token_hex(16), site.attacker_instance, name, now, now) for name in hostile],
            )
        for host in (
            f"localhost:{site.port}",
            f"127.0.0.1:{site.port}",
            f"[::ffff:127.0.0.1]:{site.port}",
            f"LOCALHOST.:{site.port}",
            f"registry.localhost:{site.port}",
            f"127.1:{site.port}",
        ):
            response = _tags_through(site, host)
            assert response.status_code == 200 and response.json()["tags"] == ["v1"], (host, response.text)
        token = iam_token(site.server, ADMIN)
        listed = httpx.get(
            f"{site.server.base_url}/v2/manage/namespaces",
            timeout=30,
            headers={"Host": f"localhost:{site.port}", "X-Auth-Token": token},
        )
        assert "victim-team" in [n["name"] for n in listed.json()["namespaces"]], listed.text
    finally:
        with database:
            database.executemany("DELETE FROM ee_domain_names WHERE domain_name = ?", [(n,) for n in hostile])
        database.close()


def test_unparsable_hosts_reach_the_shared_registry(site: Site) -> None:
    for host in ("", "[", "a..b", "x" * 300, "127.0.0.1:99999", "[fe80::1%25lo]", "*.tenants.example.test"):
        response = _tags_through(site, host)
        assert response.status_code in (200, 400), (host, response.status_code)
        if response.status_code == 200:
            assert response.json()["tags"] == ["v1"]


def test_host_parsing_has_no_pathological_input() -> None:
    """Parsing is on the path of every request not yet cached: long and odd hosts stay cheap (a
    bound far above the few tens of microseconds measured, so a loaded machine does not fail it)."""
    from moorage.domain.errors import Invalid
    from moorage.domain.hosts import parse_host

    hostile = [
        "a." * 120 + "b",
        "0" * 4000,
        "[" + ":" * 2000 + "]",
        "1." * 2000,
        "a" * 8000 + ":80",
        "*." * 500 + "x",
        "0x" + "f" * 4000,
        "[::ffff:" + "9" * 3000 + "]",
    ]
    for text in hostile:
        started = time.perf_counter()
        for _ in range(100):
            with contextlib.suppress(Invalid):
                parse_host(text, scheme="http", wildcard=True)
        assert (time.perf_counter() - started) / 100 < 5e-3, text[:40]
