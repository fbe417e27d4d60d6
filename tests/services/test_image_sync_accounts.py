"""Image synchronisation peers with per-account users (``MOORAGE_SYNC__PEERS``' ``accounts``): a peer
that lists accounts serves those only, each signing in as its own peer user. ListSyncRegions shows a
tenant only the peers it may use; CreateImageSyncRepo and CreateManualImageSyncRepo refuse the others
as unknown regions, without naming them; a job whose account lost the peer since its rule was made
fails at once with the reason instead of signing in as anyone. A peer without ``accounts`` keeps the
one shared user for every account."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from pydantic import ValidationError

from moorage.domain.jobs import Job, JobKind, JobStatus
from moorage.metadata.queries import image_sync as sync_q
from moorage.services.replication.image_sync import run_sync_job
from moorage.settings import Settings
from moorage.settings.sections import SyncPeer
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, AppFactory
from tests.support.accounts import Account, create_user, iam_token, management
from tests.support.swr_images import image, push

ADMIN = Account(ADMIN_USER, ADMIN_PASSWORD, ADMIN_USER)
NOWHERE = "http://127.0.0.1:9"  # never connected to: every refusal below comes before the network
PEERS = [
    {"region_id": "eu-own", "url": NOWHERE, "accounts": {ADMIN_USER: {"username": "peer-admin", "password": "pw-1"}}},
    {"region_id": "eu-shared", "url": NOWHERE, "username": "sync", "password": "pw-2"},
]


def test_a_peer_signs_in_per_account_or_with_its_shared_user() -> None:
    own, shared = (SyncPeer.model_validate(p) for p in PEERS)
    assert own.user_for(ADMIN_USER) == ("peer-admin", "pw-1")
    assert own.user_for("someone-else") is None
    assert shared.user_for("anyone") == shared.user_for(ADMIN_USER) == ("sync", "pw-2")
    with pytest.raises(ValidationError) as caught:
        SyncPeer.model_validate({**PEERS[0], "username": "sync", "password": "secret-shared-pw"})
    assert "not both" in str(caught.value) and "secret-shared-pw" not in str(caught.value)
    with pytest.raises(ValidationError) as caught:
        SyncPeer.model_validate({**PEERS[0], "accounts": {ADMIN_USER: {"username": "", "password": "x"}}})


def _regions(server: object, account: Account) -> list[str]:
    with management(server, iam_token(server, account)) as api:  # type: ignore[arg-type]
        answer = api.get("/v2/manage/regions")
    assert answer.status_code == 200, answer.text
    return [r["regionID"] for r in answer.json()]


def _rule(server: object, account: Account, repository: str, region: str) -> tuple[int, str]:
    with management(server, iam_token(server, account)) as api:  # type: ignore[arg-type]
        answer = api.post(
            f"/v2/manage/namespaces/{repository.replace('/app', '')}/repos/app/sync_repo",
            json={"remoteRegionId": region, "remoteNamespace": "mirror", "syncAuto": True},
        )
    return answer.status_code, answer.text


def _own_repository(server: object, account: Account, namespace: str) -> str:
    with management(server, iam_token(server, account)) as api:  # type: ignore[arg-type]
        assert api.post("/v2/manage/namespaces", json={"namespace": namespace}).status_code == 201
    with server.client(auth=(account.name, account.password)) as client:  # type: ignore[attr-defined]
        assert push(client, f"{namespace}/app", "1.0", image([{"f": namespace.encode()}])).status_code == 201
    return f"{namespace}/app"


def test_tenants_see_and_use_only_the_peers_open_to_them(app_moorage_factory: AppFactory) -> None:
    server = app_moorage_factory(sync={"peers": PEERS})
    outsider = create_user(server, "sync-outsider")  # an account (domain) of its own
    assert _regions(server, ADMIN)[1:] == ["eu-own", "eu-shared"]
    assert "eu-own" not in _regions(server, outsider) and "eu-shared" in _regions(server, outsider)

    admins = _own_repository(server, ADMIN, "admins-sync")
    theirs = _own_repository(server, outsider, "outsiders-sync")
    assert _rule(server, ADMIN, admins, "eu-own")[0] == 201
    status, text = _rule(server, outsider, theirs, "eu-own")
    assert status == 400 and "eu-shared" in text
    assert "eu-own" not in text.replace("'eu-own'", "")  # the refused name is echoed, no other tenant's
    assert _rule(server, outsider, theirs, "eu-shared")[0] == 201
    with management(server, iam_token(server, outsider)) as api:
        manual = api.post(
            "/v2/manage/namespaces/outsiders-sync/repos/app/sync_images",
            json={"imageTag": ["1.0"], "remoteNamespace": "mirror", "remoteRegionId": "eu-own"},
        )
        assert manual.status_code == 400, manual.text
        assert api.get("/v2/manage/namespaces/outsiders-sync/repos/app/sync_job").json() == []


@dataclass
class _Control:
    job: Job

    def progress(self, done: int, total: int | None = None) -> None:
        pass

    def check_stopped(self) -> None:
        pass


def test_a_job_whose_account_lost_the_peer_fails_without_signing_in(app_moorage_factory: AppFactory) -> None:
    server = app_moorage_factory(sync={"peers": PEERS})
    _own_repository(server, ADMIN, "lost-sync")
    with management(server, iam_token(server, ADMIN)) as api:
        made = api.post(
            "/v2/manage/namespaces/lost-sync/repos/app/sync_images",
            json={"imageTag": ["1.0"], "remoteNamespace": "mirror", "remoteRegionId": "eu-own"},
        )
    assert made.status_code == 200, made.text
    sync_id = int(made.json()[0])
    # The operator gives eu-own to another account only; the queued job must not go out as anyone.
    changed = [{**PEERS[0], "accounts": {"other": {"username": "peer-other", "password": "pw-3"}}}, PEERS[1]]
    settings = Settings.model_validate({**server.settings.model_dump(), "sync": {"peers": changed}})
    job = Job(
        id="j", kind=str(JobKind.IMAGE_SYNC), status=JobStatus.RUNNING, params={"sync_job_id": sync_id},
        result=None, error="", progress=0, total=0, attempts=1, max_attempts=5, stop_requested=False,
        domain_id=None, created_at=0, started_at=None, finished_at=None,
    )  # fmt: skip
    services = server.services
    assert run_sync_job(_Control(job), settings=settings, db=services.db, store=services.store) == {
        "sync_job_id": sync_id,
        "status": "failed",
    }
    recorded = services.db.run_read(lambda conn: sync_q.get_job(conn, sync_id))
    assert recorded is not None and recorded.detail == f"account {ADMIN_USER} may not sync to region eu-own"
