"""Login throttling over real HTTP: the right password still works from a clean address after another
address was throttled, ``X-Forwarded-For`` is believed only from a trusted proxy, two servers on one
database count together, and containerd's POST-then-GET of one wrong password counts once."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from tests.conftest import MoorageFactory
from tests.support.accounts import Account, create_user
from tests.support.servers import ServerProcess

ADMIN_DOMAIN = "admin"
FREE = 10  # login_failures_per_window's default
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def client_from(address: str) -> httpx.Client:
    """An HTTP client whose connections come from ``address`` (any 127/8 address is loopback)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=30)


def token_status(
    client: httpx.Client, server: ServerProcess, user: str, password: str, forwarded_for: str | None = None
) -> httpx.Response:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return client.get(
        f"{server.base_url}/service/token", params={"service": "moorage"}, auth=(user, password), headers=headers
    )


def fail_many(
    client: httpx.Client,
    server: ServerProcess,
    account: Account,
    count: int,
    forwarded_for: str | None = None,
    tag: str = "",
) -> list[int]:
    return [
        token_status(client, server, account.name, f"wrong-{tag}{i}", forwarded_for).status_code for i in range(count)
    ]


@pytest.fixture(scope="module")
def behind_proxy(session_moorage_factory: MoorageFactory) -> ServerProcess:
    """A server that trusts 127.0.0.1 (only) as its reverse proxy (a 30 s first wait: the checks
    after a throttled attempt do not race the clock on a loaded machine)."""
    return session_moorage_factory(
        env={"MOORAGE_TRUSTED_PROXIES": "127.0.0.1/32", "MOORAGE_AUTH__LOGIN_BACKOFF_SECONDS": "30"}
    )


def test_the_right_password_works_from_a_clean_address(shared_moorage: ServerProcess) -> None:
    account = create_user(shared_moorage, "throttled-owner", domain=ADMIN_DOMAIN)
    with client_from("127.0.0.1") as attacker, client_from("127.0.0.2") as owner:
        assert fail_many(attacker, shared_moorage, account, FREE) == [401] * FREE
        held = token_status(attacker, shared_moorage, account.name, account.password)
        assert held.status_code == 429 and 1 <= int(held.headers["Retry-After"]) <= 2  # backoff, not 300 s
        assert token_status(owner, shared_moorage, account.name, account.password).status_code == 200


def test_x_forwarded_for_is_ignored_from_an_untrusted_peer(shared_moorage: ServerProcess) -> None:
    account = create_user(shared_moorage, "throttled-forged", domain=ADMIN_DOMAIN)
    with client_from("127.0.0.1") as client:
        forged = [
            token_status(client, shared_moorage, account.name, f"wrong-{i}", f"198.51.100.{i}").status_code
            for i in range(FREE)
        ]
        assert forged == [401] * FREE
        # A new forged address changes nothing: the peer is the client, and it has used its failures.
        again = token_status(client, shared_moorage, account.name, account.password, "203.0.113.77")
        assert again.status_code == 429


def test_x_forwarded_for_is_honoured_from_a_trusted_proxy(behind_proxy: ServerProcess) -> None:
    account = create_user(behind_proxy, "throttled-proxied", domain=ADMIN_DOMAIN)
    with client_from("127.0.0.1") as proxy, client_from("127.0.0.2") as direct:
        assert fail_many(proxy, behind_proxy, account, FREE, "198.51.100.1") == [401] * FREE
        assert token_status(proxy, behind_proxy, account.name, account.password, "198.51.100.1").status_code == 429
        # What a client prepends to the proxy's hop is not believed...
        prepended = token_status(proxy, behind_proxy, account.name, account.password, "198.51.100.9, 198.51.100.1")
        assert prepended.status_code == 429
        # ...and another client behind the same proxy is not held back (the proxy's address is not the key).
        assert token_status(proxy, behind_proxy, account.name, account.password, "198.51.100.2").status_code == 200
        # 127.0.0.2 is no proxy: its header is ignored, and it is a clean address of its own.
        assert token_status(direct, behind_proxy, account.name, account.password, "198.51.100.1").status_code == 200
    log = behind_proxy.log()
    assert "from 198.51.100.1" in log and "from 127.0.0.1:" not in log


def test_two_servers_on_one_database_share_the_count(
    moorage_factory: MoorageFactory, pg_database_url: str, tmp_path: Path
) -> None:
    first = moorage_factory(env={"MOORAGE_DATABASE_URL": pg_database_url})
    second_dir = tmp_path / "second"
    second_dir.mkdir()
    shutil.copy(first.data_dir / "master.key", second_dir / "master.key")  # nodes share the master key
    second = moorage_factory(env={"MOORAGE_DATABASE_URL": pg_database_url}, data_dir=second_dir)
    account = create_user(first, "two-nodes", domain=ADMIN_DOMAIN)
    with client_from("127.0.0.1") as client:
        half = FREE // 2
        assert fail_many(client, first, account, half, tag="a") == [401] * half
        assert fail_many(client, second, account, FREE - half, tag="b") == [401] * (FREE - half)
        assert token_status(client, first, account.name, account.password).status_code == 429
        assert token_status(client, second, account.name, account.password).status_code == 429
    # Refresh tokens hold no node state either: one issued by the first node works on the second.
    form = {"grant_type": "password", "username": account.name, "password": account.password, "access_type": "offline"}
    with client_from("127.0.0.3") as client:
        issued = client.post(f"{first.base_url}/service/token", content=urlencode(form), headers=FORM)
        assert issued.status_code == 200, issued.text
        refreshed = client.post(
            f"{second.base_url}/service/token",
            headers=FORM,
            content=urlencode({"grant_type": "refresh_token", "refresh_token": issued.json()["refresh_token"]}),
        )
        assert refreshed.status_code == 200, refreshed.text


def test_containerd_post_then_get_counts_once(shared_moorage: ServerProcess) -> None:
    account = create_user(shared_moorage, "throttled-containerd", domain=ADMIN_DOMAIN)
    url = f"{shared_moorage.base_url}/service/token"
    with client_from("127.0.0.1") as client:
        for i in range(FREE - 1):  # what containerd does with a wrong password: POST, then GET
            form = urlencode(
                {
                    "grant_type": "password",
                    "username": account.name,
                    "password": f"wrong-{i}",
                    "service": "moorage",
                    "client_id": "containerd-client",
                }
            )
            posted = client.post(url, content=form, headers=FORM)
            assert posted.status_code == 401
            assert token_status(client, shared_moorage, account.name, f"wrong-{i}").status_code == 401
        # Nine attempts counted nine times (not eighteen): the right password still goes through.
        assert token_status(client, shared_moorage, account.name, account.password).status_code == 200
