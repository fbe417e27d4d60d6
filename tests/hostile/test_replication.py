"""Hostile tests of Enterprise Edition replication registries: an instance administrator chooses a
registry's address, and whoever runs that registry chooses its answers. Neither may take the server
to an internal address (directly, through a numeric spelling, or through a redirect), learn which
internal ports are open, or read back the credentials; a policy's filters are patterns, not code.

127.0.0.1 is the internal network here (moorage itself listens on it); 127.0.0.2 is the operator's
one allowed internal registry host (``MOORAGE_EGRESS__ALLOW_NETWORKS``)."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from tests.enterprise.conftest import _starter
from tests.enterprise.support import Enterprise, connect, create_instance, unique
from tests.hostile.egress_servers import FakeHttp, TcpListener, closed_port, reply
from tests.support.servers import stop_all

ALLOWED = {"MOORAGE_EGRESS__ALLOW_NETWORKS": "127.0.0.2/32"}


@pytest.fixture(scope="module")
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    start, started = _starter(request, tmp_path_factory.mktemp("hostile-replication"))
    try:
        ee = connect(start(database="sqlite", env=ALLOWED))
        yield {"ee": ee, "instance": create_instance(ee, unique("hostile"))}
    finally:
        stop_all(started)


def _create(site: dict[str, Any], url: str, **extra: Any) -> Any:
    ee: Enterprise = site["ee"]
    body = {
        "name": unique("r"),
        "type": "docker-registry",
        "url": url,
        "credential": {"type": "basic", "access_key": "robot", "access_secret": "s3cret-value"},
        **extra,
    }
    with ee.http() as api:
        return api.post(f"/v2/{ee.project}/instances/{site['instance']}/registries", json=body)


def _count(site: dict[str, Any]) -> int:
    ee: Enterprise = site["ee"]
    with ee.http() as api:
        return int(api.get(f"/v2/{ee.project}/instances/{site['instance']}/registries").json()["total"])


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{own}",  # moorage itself
        "http://169.254.169.254",  # cloud metadata
        "http://10.0.0.1:5000",
        "http://[::1]:{own}",
        "http://2130706433:{own}",  # 127.0.0.1 spelt as a number
        "http://0x7f.1:{own}",
        "file:///etc/passwd",
        "gopher://127.0.0.2:70/",
        "http://robot:pw@127.0.0.2:5000",
        "http://127.0.0.2:99999",
    ],
)
def test_internal_or_malformed_addresses_are_refused(site: dict[str, Any], url: str) -> None:
    own = site["ee"].server.port
    before = _count(site)
    answer = _create(site, url.format(own=own))
    assert answer.status_code == 400, answer.text
    given = url.format(own=own)
    text = answer.text.replace(given[:64], "")  # a refused address may be quoted back, nothing more
    assert "127.0.0.1" not in text and "s3cret-value" not in text
    assert _count(site) == before


def test_closed_and_open_internal_ports_read_alike(site: dict[str, Any]) -> None:
    """An allowed host's closed port and a non-HTTP listener answer the same general words."""
    with TcpListener("127.0.0.2") as listener:
        open_port = _create(site, f"http://127.0.0.2:{listener.port}")
    closed = _create(site, f"http://127.0.0.2:{closed_port('127.0.0.2')}")
    assert open_port.status_code == closed.status_code == 400
    assert open_port.json()["error_msg"].split(":", 1)[1] == closed.json()["error_msg"].split(":", 1)[1]


def test_a_redirect_to_an_internal_address_is_not_followed(site: dict[str, Any]) -> None:
    with TcpListener("127.0.0.1") as internal:

        def route(fake: FakeHttp, handler: BaseHTTPRequestHandler) -> None:
            reply(handler, 307, headers={"Location": f"http://127.0.0.1:{internal.port}/v2/"})

        with FakeHttp(route) as fake:
            answer = _create(site, fake.url)
        assert answer.status_code == 400, answer.text
        assert str(internal.port) not in answer.text
        assert fake.requests and internal.accepted == 0


def test_credentials_go_to_the_registry_only_and_never_come_back(site: dict[str, Any]) -> None:
    """A registry whose token realm is another host never sees the password sent there; the stored
    registry never shows it."""

    def route(fake: FakeHttp, handler: BaseHTTPRequestHandler) -> None:
        if "authorization" in {k.lower() for k in handler.headers}:
            reply(handler, 200, {})
        else:
            reply(handler, 401, headers={"WWW-Authenticate": 'Basic realm="registry"'})

    with FakeHttp(route) as fake:
        answer = _create(site, fake.url)
        assert answer.status_code == 201, answer.text
        registry_id = answer.json()["id"]
    ee: Enterprise = site["ee"]
    with ee.http() as api:
        shown = api.get(f"/v2/{ee.project}/instances/{site['instance']}/registries/{registry_id}").text
        listed = api.get(f"/v2/{ee.project}/instances/{site['instance']}/registries").text
        logs = api.get(f"/v2/{ee.project}/instances/{site['instance']}/audit-logs", params={"limit": 100}).text
    for text in (shown, listed, logs, ee.server.log()):
        assert "s3cret-value" not in text
    assert '"access_secret":"******"' in shown.replace(" ", "")


def test_hostile_filter_patterns_are_inert(site: dict[str, Any]) -> None:
    """Patterns that would be catastrophic as regular expressions are globs here: stored and
    matched in linear time, or refused."""
    ee: Enterprise = site["ee"]
    with FakeHttp(lambda fake, handler: reply(handler, 200, {})) as fake:
        created = _create(site, fake.url)
    registry_id = created.json()["id"]
    patterns = ["(a+)+$", "{" * 200 + "}" * 200, "**/" * 150, "[" * 300, "a" * 512]
    with ee.http() as api:
        for pattern in patterns:
            answer = api.post(
                f"/v2/{ee.project}/instances/{site['instance']}/replication/policies",
                json={
                    "name": unique("p"),
                    "dest_registry": {"id": registry_id},
                    "filters": [{"type": "name", "value": pattern}, {"type": "tag", "value": pattern}],
                },
                timeout=10,
            )
            assert answer.status_code in (201, 400), answer.text
