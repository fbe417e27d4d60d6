"""``moorage serve`` as a multi-node operator runs it, and as a bad day treats it.

- Every secret setting (the master key, the administrator's password, a database URL and a Redis URL
  with passwords) given by the environment, and all of them given by the TOML file alone, reaches
  both HTTP workers and the embedded job worker intact: a token issued by one worker is accepted by
  the other and was signed with the configured key, and a job that needs the master key (decrypting
  a signing key) succeeds in the job worker.
- A server that cannot start says so, exits non-zero and leaves no process behind (granian and
  uvicorn); one stopped during its start-up leaves none either.
- The job worker and the HTTP workers end with the server, SIGKILL of the server included; a job
  worker that dies while serving is started again.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from moorage.auth.keys import MasterKey
from moorage.auth.tokens import TokenSigner
from moorage.child_process import PARENT_GONE_GRACE_SECONDS, PARENT_POLL_SECONDS
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.hostile.serve_processes import Served, call, connection_per_worker, launch
from tests.support import postgres, redis_server
from tests.support.accounts import REGION
from tests.support.servers import free_port
from tests.support.tools import require_tool

pytestmark = pytest.mark.slow

MASTER_KEY = base64.b64encode(secrets.token_bytes(32)).decode()
PG_PASSWORD = "pg/Secret+9@x:y"  # characters a URL must percent-encode
REDIS_PASSWORD = "redis-Secret=42"
START_TIMEOUT = 240.0  # two test processes may start servers at once on two busy cores


@pytest.fixture(scope="module")
def secured_postgres() -> Iterator[postgres.PostgresServer]:
    """A PostgreSQL cluster that asks TCP clients for a password."""
    require_tool(str(postgres.PG_BIN / "postgres"))
    server = postgres.start(password=PG_PASSWORD)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def secured_redis() -> Iterator[redis_server.RedisServer]:
    """A Redis that asks for a password."""
    require_tool(redis_server.REDIS_BIN)
    server = redis_server.start(REDIS_PASSWORD)
    try:
        yield server
    finally:
        server.stop()


def _wait_ready(served: Served) -> None:
    try:
        served.server.wait_ready("/healthz", timeout=START_TIMEOUT)
    except BaseException:
        served.kill_everything()
        raise


def _login(connection: http.client.HTTPConnection) -> str:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": ADMIN_USER, "password": ADMIN_PASSWORD, "domain": {"name": ADMIN_USER}}},
            },
            "scope": {"project": {"name": REGION}},
        }
    }
    status, headers, data = call(
        connection,
        "POST",
        "/v3/auth/tokens",
        body=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert status == 201, data
    return headers["x-subject-token"]


def _registry_token(connection: http.client.HTTPConnection) -> str:
    basic = base64.b64encode(f"{ADMIN_USER}:{ADMIN_PASSWORD}".encode()).decode()
    status, _, data = call(
        connection,
        "GET",
        "/service/token?service=moorage&scope=repository:keys/app:pull",
        headers={"Authorization": f"Basic {basic}"},
    )
    assert status == 200, data
    token: str = json.loads(data)["token"]
    return token


def _assert_workers_share_the_configured_secrets(served: Served) -> None:
    """Tokens issued by each HTTP worker are accepted by the other, and were signed with the
    configured master key; the administrator's password is the configured one."""
    workers = connection_per_worker(served)
    assert len(workers) == 2
    first, second = workers.values()
    signer = TokenSigner(MasterKey.from_text(MASTER_KEY), registry_service="moorage")
    for issuer, checker in ((first, second), (second, first)):
        iam = _login(issuer)
        assert signer.verify_iam(iam).user_id  # signed with the configured key, not another one
        status, _, data = call(checker, "GET", f"/v3/projects?name={REGION}", headers={"X-Auth-Token": iam})
        assert status == 200, data
        bearer = _registry_token(issuer)
        status, _, data = call(checker, "GET", "/v2/", headers={"Authorization": f"Bearer {bearer}"})
        assert status == 200, data
    for connection in workers.values():
        connection.close()
    assert not (served.server.data_dir / "master.key").exists()  # the configured key, not a generated one


def _assert_job_worker_has_the_master_key(served: Served) -> None:
    """A signature execution decrypts the policy's signing key in the job worker: it succeeds only
    with the master key the HTTP worker encrypted it with (and a queue both reach)."""
    from tests.enterprise.support import (
        connect,
        create_instance,
        create_key,
        create_namespace,
        create_policy,
        execute,
        unique,
        wait_execution,
    )

    ee = connect(served.server)
    instance_id = create_instance(ee, unique("keys"))
    create_namespace(ee, instance_id, "ns")
    key = create_key(ee, instance_id)
    policy_id = create_policy(ee, instance_id, "ns", key["id"])
    execution_id = execute(ee, instance_id, "ns", policy_id)
    done = wait_execution(ee, instance_id, "ns", policy_id, execution_id, timeout=120)
    assert done.status == "Succeed", (done, served.server.log()[-3000:])


def test_every_secret_from_the_environment_reaches_every_worker(
    tmp_path: Path, secured_postgres: postgres.PostgresServer, secured_redis: redis_server.RedisServer
) -> None:
    port = free_port()
    data_dir = tmp_path / "data"
    served = launch(
        tmp_path,
        "env",
        port=port,
        data_dir=data_dir,
        args=["--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir), "--workers", "2"],
        env={
            "MOORAGE_AUTH__MASTER_KEY": MASTER_KEY,
            "MOORAGE_AUTH__ADMIN_USER": ADMIN_USER,
            "MOORAGE_AUTH__ADMIN_PASSWORD": ADMIN_PASSWORD,
            "MOORAGE_DATABASE_URL": secured_postgres.create_database("serve_env"),
            "MOORAGE_REDIS_URL": secured_redis.url(0),
            "MOORAGE_ACCESS_LOG": "false",
        },
    )
    try:
        _wait_ready(served)
        command_lines = " ".join(served.processes().values())
        assert quote(PG_PASSWORD, safe="") not in command_lines and MASTER_KEY not in command_lines
        _assert_workers_share_the_configured_secrets(served)
        _assert_job_worker_has_the_master_key(served)
        # each HTTP process says it is ready once it serves (not the parent, before anything listens)
        log = served.server.log()
        assert log.index("moorage starting on") < log.index("moorage ready: HTTP process")
        assert (
            len(
                {
                    line.split("HTTP process ")[1].split()[0]
                    for line in log.splitlines()
                    if "moorage ready: HTTP process" in line
                }
            )
            == 2
        ), log[-3000:]

        # a job worker that dies while serving is started again, with the same settings
        (job_worker,) = served.job_workers()
        os.kill(job_worker, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while not (served.job_workers() - {job_worker}) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert served.job_workers() - {job_worker}, served.server.log()[-3000:]
        assert "starting it again" in served.server.log()
        _assert_job_worker_has_the_master_key(served)

        # SIGKILL of the server alone: its HTTP workers and job worker follow within seconds
        assert len(served.processes()) >= 4  # server, two HTTP workers, job worker
        os.kill(served.pid, signal.SIGKILL)
        served.server.process.wait()
        # A worker still finishing a request (a kept-alive connection on a busy machine) may use its
        # whole grace period: CI saw one HTTP worker alive 10 s after the kill.
        assert served.wait_gone(PARENT_GONE_GRACE_SECONDS + PARENT_POLL_SECONDS + 10) == {}
    finally:
        served.kill_everything()


def test_every_secret_from_the_toml_file_alone_reaches_every_worker(
    tmp_path: Path, secured_postgres: postgres.PostgresServer, secured_redis: redis_server.RedisServer
) -> None:
    """No MOORAGE_* variable at all: the TOML file given with --config is the whole configuration."""
    port = free_port()
    data_dir = tmp_path / "data"
    config = tmp_path / "moorage.toml"
    database_url = secured_postgres.create_database("serve_toml")
    fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(
            f'host = "127.0.0.1"\nport = {port}\ndata_dir = "{data_dir}"\nworkers = 2\naccess_log = false\n'
            f'database_url = "{database_url}"\nredis_url = "{secured_redis.url(1)}"\n'
            f'[auth]\nadmin_user = "{ADMIN_USER}"\nadmin_password = "{ADMIN_PASSWORD}"\n'
            f'master_key = "{MASTER_KEY}"\n'
        )
    served = launch(tmp_path, "toml", port=port, data_dir=data_dir, args=["--config", str(config)])
    try:
        _wait_ready(served)
        assert len(served.http_workers()) == 2 and len(served.job_workers()) == 1, served.processes()
        _assert_workers_share_the_configured_secrets(served)
        _assert_job_worker_has_the_master_key(served)

        os.kill(served.pid, signal.SIGTERM)  # an ordinary stop: status 0, nothing left
        assert served.server.process.wait(60) == 0, served.server.log()[-3000:]
        assert served.wait_gone(10) == {}
    finally:
        served.kill_everything()


@pytest.mark.parametrize(("server", "workers"), [("granian", "1"), ("uvicorn", "2")])
def test_a_server_whose_http_workers_cannot_start_exits_non_zero_and_leaves_nothing(
    tmp_path: Path, server: str, workers: str
) -> None:
    """uvicorn with several workers is its supervisor's path (it returns, as if stopped, when a worker
    fails at start); granian stops on any worker exit."""
    port = free_port()
    data_dir = tmp_path / "data"
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the storage root's parent should be\n")
    served = launch(
        tmp_path,
        "broken",
        port=port,
        data_dir=data_dir,
        args=["--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir), "--workers", workers],
        env={
            "MOORAGE_SERVER": server,
            # Valid settings (checked before any worker starts) naming a storage root no worker can make.
            "MOORAGE_STORAGE__ROOT": str(blocker / "storage"),
            "MOORAGE_AUTH__ADMIN_PASSWORD": ADMIN_PASSWORD,
        },
    )
    try:
        try:
            status = served.server.process.wait(START_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the server kept running without HTTP workers:\n{served.server.log()[-3000:]}")
        log = served.server.log()
        assert status != 0, log[-3000:]
        assert "could not start" in log and "not-a-directory" in log, log[-3000:]
        assert served.wait_gone(10) == {}
    finally:
        served.kill_everything()


def test_a_server_stopped_during_its_start_leaves_nothing(tmp_path: Path) -> None:
    """SIGTERM (to the server alone) as soon as its job worker exists, before the HTTP server runs."""
    port = free_port()
    data_dir = tmp_path / "data"
    served = launch(
        tmp_path,
        "early",
        port=port,
        data_dir=data_dir,
        args=["--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir), "--workers", "2"],
        # An HTTP worker told to stop while still starting may never notice: it is killed after this.
        env={"MOORAGE_AUTH__ADMIN_PASSWORD": ADMIN_PASSWORD, "MOORAGE_HTTP__STOP_TIMEOUT_SECONDS": "5"},
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not served.job_workers() and time.monotonic() < deadline:
            assert served.server.process.poll() is None, served.server.log()
            time.sleep(0.02)
        assert served.job_workers(), served.server.log()
        os.kill(served.pid, signal.SIGTERM)
        served.server.process.wait(60)
        assert served.wait_gone(10) == {}, served.server.log()[-3000:]
    finally:
        served.kill_everything()
