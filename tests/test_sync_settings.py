"""``MOORAGE_SYNC__PEERS``: a JSON list of peer sites read from the environment; a peer's password is a
secret (never in a repr, a log line or a validation error); bad lists are refused at start."""

from __future__ import annotations

import json
import logging

import pytest
from pydantic import ValidationError

from moorage.settings import Settings

PASSWORD = "peer-password-never-shown"


def _peers(monkeypatch: pytest.MonkeyPatch, peers: object) -> Settings:
    monkeypatch.setenv("MOORAGE_SYNC__PEERS", json.dumps(peers))
    return Settings()


def test_peers_from_the_environment(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    settings = _peers(
        monkeypatch,
        [{"region_id": "eu-2", "url": "https://registry.eu-2.corp", "username": "sync", "password": PASSWORD}],
    )
    (peer,) = settings.sync.peers
    assert (peer.region_id, peer.url, peer.username, peer.verify_tls) == (
        "eu-2",
        "https://registry.eu-2.corp",
        "sync",
        True,
    )
    assert peer.password.get_secret_value() == PASSWORD
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("test").info("settings: %r %s", settings, settings.sync)
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings.sync) and PASSWORD not in caplog.text


@pytest.mark.parametrize(
    "peers",
    [
        [{"region_id": "a", "url": "https://x.corp"}, {"region_id": "a", "url": "https://y.corp"}],  # same id twice
        [{"region_id": "a", "url": f"https://sync:{PASSWORD}@x.corp"}],  # credentials in the URL
        [{"region_id": "a", "url": "ftp://x.corp"}],
        [{"region_id": "a", "url": "https://x.corp/some/path"}],
        [{"region_id": "", "url": "https://x.corp"}],
        [{"region_id": "a", "url": "https://x.corp", "password": PASSWORD, "surprise": 1}],
    ],
)
def test_bad_peer_lists_are_refused(monkeypatch: pytest.MonkeyPatch, peers: object) -> None:
    with pytest.raises(ValidationError) as refused:
        _peers(monkeypatch, peers)
    assert PASSWORD not in str(refused.value)


def test_no_peers_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MOORAGE_SYNC__PEERS", raising=False)
    assert Settings().sync.peers == []
