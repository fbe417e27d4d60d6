"""Each management path answers errors in its own dialect: the IAM routes (tokens, projects, users,
the access keys under ``/v3.0/OS-CREDENTIAL``) in Keystone's, not SWR's."""

from __future__ import annotations

import pytest

from moorage.api.errors import dialect_for_path


@pytest.mark.parametrize(
    ("path", "dialect"),
    [
        ("/v3/auth/tokens", "iam"),
        ("/v3/projects", "iam"),
        ("/v3/users", "iam"),
        ("/v3/users/0123456789abcdef0123456789abcdef", "iam"),
        ("/v3.0/OS-CREDENTIAL/credentials", "iam"),
        ("/v3.0/OS-CREDENTIAL/credentials/AKEXAMPLE", "iam"),
        ("/v3/manage/namespaces/team/repos/app/tags", "swr"),
        ("/v2/manage/namespaces", "swr"),
        ("/v5/0123456789abcdef0123456789abcdef/image/registry/images", "hss"),
        ("/v2/0123456789abcdef0123456789abcdef/instances", "enterprise"),
    ],
)
def test_each_management_path_has_its_dialect(path: str, dialect: str) -> None:
    assert dialect_for_path(path) == dialect
