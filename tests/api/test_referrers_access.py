"""Who may list referrers of a repository that does not exist yet: whoever may read that name gets
an empty index (the newest conformance suite asks before pushing), everybody else the usual 401 or
403, and the answer to someone of another account is the same whether the repository exists or
not (no name of another account leaks)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.api.test_public_and_secrets import push_small_image
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.support.accounts import Account, create_user, iam_token, management
from tests.support.servers import ServerProcess

ADMIN = Account(ADMIN_USER, ADMIN_PASSWORD, ADMIN_USER)
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
SUBJECT = "sha256:" + "5" * 64


@pytest.fixture(scope="module")
def names(shared_moorage: ServerProcess) -> dict[str, str]:
    """An administrator's organization with one repository pushed, and names around it."""
    namespace = f"refs-{uuid.uuid4().hex[:8]}"
    push_small_image(shared_moorage, f"{namespace}/present")
    return {
        "present": f"{namespace}/present",
        "absent": f"{namespace}/absent",
        "no-namespace": f"refs-none-{uuid.uuid4().hex[:8]}/absent",
    }


def _referrers(server: ServerProcess, name: str, auth: tuple[str, str] | None) -> httpx.Response:
    return httpx.get(f"{server.base_url}/v2/{name}/referrers/{SUBJECT}", auth=auth, timeout=30)


def test_a_reader_gets_an_empty_index_for_a_repository_not_created_yet(
    shared_moorage: ServerProcess, names: dict[str, str]
) -> None:
    reader = create_user(shared_moorage, f"refs-reader-{uuid.uuid4().hex[:6]}", domain=ADMIN_USER)
    namespace = names["absent"].split("/")[0]
    with management(shared_moorage, iam_token(shared_moorage, ADMIN)) as api:
        granted = api.post(
            f"/v2/manage/namespaces/{namespace}/access",
            json=[{"user_id": reader.user_id, "user_name": reader.name, "auth": 1}],
        )
    assert granted.status_code == 201, granted.text
    for account in (ADMIN, reader):
        for name in ("present", "absent"):
            response = _referrers(shared_moorage, names[name], (account.name, account.password))
            assert response.status_code == 200, (account.name, name, response.text)
            assert response.headers["Content-Type"] == OCI_INDEX
            assert response.json() == {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
    # The administrator may create any organization, so it may read names in one that does not exist.
    assert _referrers(shared_moorage, names["no-namespace"], (ADMIN.name, ADMIN.password)).status_code == 200


def test_nobody_else_learns_whether_the_repository_exists(shared_moorage: ServerProcess, names: dict[str, str]) -> None:
    outsider = create_user(shared_moorage, f"refs-outsider-{uuid.uuid4().hex[:6]}")
    answers = []
    for name in ("present", "absent", "no-namespace"):
        anonymous = _referrers(shared_moorage, names[name], None)
        assert anonymous.status_code == 401, anonymous.text
        foreign = _referrers(shared_moorage, names[name], (outsider.name, outsider.password))
        assert foreign.status_code == 403, foreign.text
        answers.append(foreign.text.replace(names[name], "<name>"))
    assert len(set(answers)) == 1, answers
