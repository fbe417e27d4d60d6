"""Immutable tag rules through the official SDK (SQLite and PostgreSQL): the rule operations with
their bad input, then what a rule does to skopeo, podman and plain OCI requests (a covered tag is
pushed once; the same content again is accepted; deletes of the tag, its manifest and its
repository are refused, as OCI ``DENIED`` and in the SWR error format), concurrent pushes of one
new covered tag (exactly one wins), and cosign signature tags left alone."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkswr.v2 import (
    CreateImmutableRuleBody,
    CreateImmutableRuleRequest,
    DeleteImmutableRuleRequest,
    DeleteInstanceArtifactRequest,
    DeleteInstanceRepositoryRequest,
    DeleteInstanceTagRequest,
    ListImmutableRulesRequest,
    RuleSelector,
    UpdateImmutableRuleBody,
    UpdateImmutableRuleRequest,
)

from tests.api.swr.conftest import assert_sdk_types
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.enterprise import layouts
from tests.enterprise.support import Enterprise, create_instance, create_namespace, push, unique
from tests.support import skopeo
from tests.support.clients import Tool, private_env, state_dir

CREDS = (ADMIN_USER, ADMIN_PASSWORD)
IMMUTABLE_CODE = "SVCSTG.SWR.4030010"


def selector(decoration: str, pattern: str) -> RuleSelector:
    """A doublestar selector of the SDK."""
    return RuleSelector(kind="doublestar", decoration=decoration, pattern=pattern)


def create_rule(
    ee: Enterprise,
    instance_id: str,
    namespace: str,
    *,
    repositories: str = "**",
    tags: str = "**",
    tag_decoration: str = "matches",
    disabled: bool | None = None,
) -> int:
    """A rule through the SDK; its id."""
    body = CreateImmutableRuleBody(
        tag_selectors=[selector(tag_decoration, tags)],
        scope_selectors={"repository": [selector("repoMatches", repositories)]},
        disabled=disabled,
    )
    created = ee.client.create_immutable_rule(
        CreateImmutableRuleRequest(instance_id=instance_id, namespace_name=namespace, body=body)
    )
    assert isinstance(created.id, int)
    return int(created.id)


def delete_rule(ee: Enterprise, instance_id: str, namespace: str, rule_id: int) -> None:
    """Delete a rule through the SDK."""
    ee.client.delete_immutable_rule(
        DeleteImmutableRuleRequest(instance_id=instance_id, namespace_name=namespace, immutable_rule_id=rule_id)
    )


def rules(ee: Enterprise, instance_id: str, **query: Any) -> Any:
    """``list_immutable_rules``."""
    return ee.client.list_immutable_rules(ListImmutableRulesRequest(instance_id=instance_id, **query))


class Oci:
    """Plain OCI requests to one repository of an instance, with a push token."""

    def __init__(self, host: str, repository: str) -> None:
        token = httpx.get(
            f"http://{host}/service/token",
            auth=CREDS,
            timeout=30,
            params={"scope": f"repository:{repository}:pull,push,delete"},
        ).json()["token"]
        self.repository = repository
        self.api = httpx.Client(
            base_url=f"http://{host}/v2/{repository}", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )

    def blobs(self, blobs: dict[str, bytes]) -> None:
        """Upload blobs (monolithic POST)."""
        for digest, data in blobs.items():
            done = self.api.post("/blobs/uploads/", params={"digest": digest}, content=data)
            assert done.status_code == 201, done.text

    def put_manifest(
        self, reference: str, manifest: bytes, media_type: str = layouts.OCI_MANIFEST, **params: Any
    ) -> httpx.Response:
        """``PUT /manifests/<reference>``."""
        return self.api.put(
            f"/manifests/{reference}", content=manifest, params=params, headers={"Content-Type": media_type}
        )

    def image(self, content: str) -> tuple[bytes, str]:
        """Upload the blobs of ``layouts.image_blobs(content)``; (manifest, its digest)."""
        manifest, blobs = layouts.image_blobs(content)
        self.blobs({d: b for d, b in blobs.items() if b != manifest})
        return manifest, layouts.manifest_digest(content)

    def digest_of(self, tag: str) -> str:
        """The digest a tag names now."""
        found = self.api.head(f"/manifests/{tag}", headers={"Accept": layouts.OCI_MANIFEST})
        assert found.status_code == 200, found.text
        return found.headers["docker-content-digest"]


def assert_denied(response: httpx.Response, *words: str) -> None:
    """OCI ``DENIED`` (403) whose message holds ``words``."""
    assert response.status_code == 403, response.text
    error = response.json()["errors"][0]
    assert error["code"] == "DENIED"
    for word in words:
        assert word in error["message"], error["message"]


def assert_immutable(caught: pytest.ExceptionInfo[ClientRequestException], *words: str) -> None:
    """The SDK raised the SWR answer for an immutable tag."""
    assert (caught.value.status_code, caught.value.error_code) == (403, IMMUTABLE_CODE), caught.value.error_msg
    for word in words:
        assert word in caught.value.error_msg


@pytest.fixture(scope="module")
def world(ee: Enterprise, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An instance reachable at ``ee.instance_address`` with namespaces ``frozen`` and ``other``, and
    a layout of two images."""
    instance_id = create_instance(ee, unique("immutable"), domain_name=ee.instance_address)
    ids = {name: create_namespace(ee, instance_id, name) for name in ("frozen", "other")}
    layout = layouts.write_layout(
        tmp_path_factory.mktemp("immutable") / "images", {"one": "immutable one", "two": "immutable two"}
    )
    return {"instance": instance_id, "namespace_ids": ids, "layout": layout, "host": ee.instance_address}


# The rule operations --------------------------------------------------------------------------------
def test_rule_lifecycle(ee: Enterprise, world: dict[str, Any]) -> None:
    instance_id = world["instance"]
    first = create_rule(ee, instance_id, "frozen", repositories="life/**", tags="v*")
    second = create_rule(
        ee, instance_id, "other", repositories="{a,b}", tags="latest", tag_decoration="excludes", disabled=True
    )
    listed = rules(ee, instance_id)
    assert_sdk_types(listed)
    mine = {r.id: r for r in listed.immutable_rules if r.id in (first, second)}
    assert set(mine) == {first, second}
    rule = mine[first]
    assert (rule.namespace_id, rule.namespace_name, rule.priority, rule.disabled, rule.action, rule.template) == (
        world["namespace_ids"]["frozen"],
        "frozen",
        0,
        False,
        "immutable",
        "immutable_template",
    )
    assert [(s.kind, s.decoration, s.pattern) for s in rule.tag_selectors] == [("doublestar", "matches", "v*")]
    assert [(s.kind, s.decoration, s.pattern) for s in rule.scope_selectors["repository"]] == [
        ("doublestar", "repoMatches", "life/**")
    ]
    assert mine[second].disabled is True and mine[second].tag_selectors[0].decoration == "excludes"

    only_other = rules(ee, instance_id, namespace_id=world["namespace_ids"]["other"])
    assert [r.id for r in only_other.immutable_rules] == [second] and only_other.total == 1
    page = rules(ee, instance_id, offset=1, limit=1)
    assert page.total == listed.total and [r.id for r in page.immutable_rules] == [listed.immutable_rules[1].id]

    ee.client.update_immutable_rule(
        UpdateImmutableRuleRequest(
            instance_id=instance_id,
            namespace_name="frozen",
            immutable_rule_id=first,
            body=UpdateImmutableRuleBody(
                tag_selectors=[selector("matches", "release-*")],
                scope_selectors={"repository": [selector("repoExcludes", "scratch")]},
                disabled=True,
                priority=7,
            ),
        )
    )
    changed = next(r for r in rules(ee, instance_id).immutable_rules if r.id == first)
    assert (
        changed.disabled,
        changed.priority,
        changed.tag_selectors[0].pattern,
        changed.scope_selectors["repository"][0].decoration,
    ) == (True, 7, "release-*", "repoExcludes")

    delete_rule(ee, instance_id, "frozen", first)
    delete_rule(ee, instance_id, "other", second)
    assert not {r.id for r in rules(ee, instance_id).immutable_rules} & {first, second}
    with pytest.raises(ClientRequestException) as caught:
        delete_rule(ee, instance_id, "frozen", first)
    assert caught.value.status_code == 404
    with pytest.raises(ClientRequestException) as caught:  # a rule answers under its own namespace only
        ee.client.update_immutable_rule(
            UpdateImmutableRuleRequest(
                instance_id=instance_id,
                namespace_name="other",
                immutable_rule_id=first,
                body=UpdateImmutableRuleBody(
                    tag_selectors=[selector("matches", "**")],
                    scope_selectors={"repository": [selector("repoMatches", "**")]},
                ),
            )
        )
    assert caught.value.status_code == 404
    with pytest.raises(ClientRequestException) as caught:
        rules(ee, instance_id, offset=3, limit=2)  # offset must be a multiple of limit
    assert (caught.value.status_code, caught.value.error_code) == (400, "SVCSTG.SWR.4000014")


def _good_body() -> dict[str, Any]:
    return {
        "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "v*"}],
        "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]},
    }


def _tag_selector(**change: Any) -> dict[str, Any]:
    body = _good_body()
    body["tag_selectors"][0].update(change)
    return body


def _without(key: str) -> dict[str, Any]:
    body = _good_body()
    del body[key]
    return body


BAD_BODIES = {
    "unknown kind": _tag_selector(kind="regexp"),
    "unknown decoration": _tag_selector(decoration="repoMatches"),
    "unclosed class": _tag_selector(pattern="v[1"),
    "unclosed brace": _tag_selector(pattern="{a,b"),
    "stray brace": _tag_selector(pattern="a}"),
    "trailing backslash": _tag_selector(pattern="v1\\"),
    "backwards range": _tag_selector(pattern="[z-a]"),
    "empty pattern": _tag_selector(pattern=""),
    "pattern too long": _tag_selector(pattern="a" * 513),
    "extras not JSON": _tag_selector(extras="{"),
    "missing pattern": {
        "tag_selectors": [{"kind": "doublestar", "decoration": "matches"}],
        "scope_selectors": _good_body()["scope_selectors"],
    },
    "missing kind": {
        "tag_selectors": [{"decoration": "matches", "pattern": "v*"}],
        "scope_selectors": _good_body()["scope_selectors"],
    },
    "missing tag selectors": _without("tag_selectors"),
    "missing scope selectors": _without("scope_selectors"),
    "two tag selectors": {**_good_body(), "tag_selectors": _good_body()["tag_selectors"] * 2},
    "no tag selector": {**_good_body(), "tag_selectors": []},
    "no repository selector": {**_good_body(), "scope_selectors": {"repository": []}},
    "unknown scope": {
        **_good_body(),
        "scope_selectors": {
            **_good_body()["scope_selectors"],
            "namespace": _good_body()["scope_selectors"]["repository"],
        },
    },
    "bad repository pattern": {
        **_good_body(),
        "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "a/{b"}]},
    },
    "tag decoration on a repository": {
        **_good_body(),
        "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "matches", "pattern": "**"}]},
    },
    "other action": {**_good_body(), "action": "mutable"},
    "other template": {**_good_body(), "template": "retention_template"},
    "negative priority": {**_good_body(), "priority": -1},
    "priority not a number": {**_good_body(), "priority": "high"},
    "not an object": ["v*"],
}


def test_bad_input_is_refused_and_nothing_is_stored(ee: Enterprise, world: dict[str, Any]) -> None:
    instance_id = world["instance"]
    base = f"/v2/{ee.project}/instances/{instance_id}/namespaces/frozen/immutabletagrules"
    rule_id = create_rule(ee, instance_id, "frozen", repositories="bad-input", tags="stays")
    before = rules(ee, instance_id, limit=100)
    with ee.http() as api:
        for what, body in BAD_BODIES.items():
            for method, path in (("POST", base), ("PUT", f"{base}/{rule_id}")):
                answer = api.request(method, path, json=body)
                assert answer.status_code == 400, (what, method, answer.text)
                error = answer.json()
                assert error["error_code"].startswith("SVCSTG.SWR.400") and error["error_msg"], (what, error)
        duplicate = api.post(
            base,
            json={
                "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "stays"}],
                "scope_selectors": {
                    "repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "bad-input"}]
                },
            },
        )
        assert duplicate.status_code == 409, duplicate.text
        missing = api.post(base.replace("/frozen/", "/no-such-namespace/"), json=_good_body())
        assert missing.status_code == 404, missing.text
    after = rules(ee, instance_id, limit=100)
    assert [(r.id, r.to_dict()) for r in after.immutable_rules] == [(r.id, r.to_dict()) for r in before.immutable_rules]
    delete_rule(ee, instance_id, "frozen", rule_id)


# What a rule does ---------------------------------------------------------------------------------
def test_skopeo_pushes_a_covered_tag_once(ee: Enterprise, world: dict[str, Any]) -> None:
    instance_id, host, layout = world["instance"], world["host"], world["layout"]
    rule_id = create_rule(ee, instance_id, "frozen", repositories="app", tags="v*")
    try:
        push(layout, "one", f"{host}/frozen/app:v1")
        push(layout, "one", f"{host}/frozen/app:v1")  # the same content again: accepted, nothing changes
        refused = skopeo.push(layout, "two", f"{host}/frozen/app:v1", creds=CREDS, check=False)
        assert refused.returncode != 0
        assert "denied" in refused.stderr and f"immutable tag rule {rule_id}" in refused.stderr, refused.stderr
        assert Oci(host, "frozen/app").digest_of("v1") == layouts.manifest_digest("immutable one")
        # Not covered: another tag, another repository, another namespace.
        for destination in ("frozen/app:latest", "frozen/tools:v1", "other/app:v1"):
            push(layout, "one", f"{host}/{destination}")
            push(layout, "two", f"{host}/{destination}")
            assert Oci(host, destination.split(":")[0]).digest_of(destination.split(":")[1]) == layouts.manifest_digest(
                "immutable two"
            )
    finally:
        delete_rule(ee, instance_id, "frozen", rule_id)
    push(layout, "two", f"{host}/frozen/app:v1")  # the rule is gone: the tag moves again
    assert Oci(host, "frozen/app").digest_of("v1") == layouts.manifest_digest("immutable two")


def test_a_disabled_rule_protects_nothing(ee: Enterprise, world: dict[str, Any]) -> None:
    instance_id, host, layout = world["instance"], world["host"], world["layout"]
    rule_id = create_rule(ee, instance_id, "frozen", repositories="sleepy", tags="**", disabled=True)
    try:
        push(layout, "one", f"{host}/frozen/sleepy:v1")
        push(layout, "two", f"{host}/frozen/sleepy:v1")
        ee.client.update_immutable_rule(
            UpdateImmutableRuleRequest(
                instance_id=instance_id,
                namespace_name="frozen",
                immutable_rule_id=rule_id,
                body=UpdateImmutableRuleBody(
                    tag_selectors=[selector("matches", "**")],
                    scope_selectors={"repository": [selector("repoMatches", "sleepy")]},
                    disabled=False,
                ),
            )
        )
        assert skopeo.push(layout, "one", f"{host}/frozen/sleepy:v1", creds=CREDS, check=False).returncode != 0
    finally:
        delete_rule(ee, instance_id, "frozen", rule_id)


def test_oci_tag_parameters_and_excludes(ee: Enterprise, world: dict[str, Any]) -> None:
    """A push by digest with ``?tag=`` is a push of each tag; an ``excludes`` selector covers every
    tag but the ones it names."""
    instance_id, host = world["instance"], world["host"]
    rule_id = create_rule(ee, instance_id, "frozen", repositories="params", tags="latest", tag_decoration="excludes")
    oci = Oci(host, "frozen/params")
    try:
        first, first_digest = oci.image("params first")
        second, second_digest = oci.image("params second")
        assert oci.put_manifest(first_digest, first, tag=["1.0", "latest"]).status_code == 201
        assert oci.put_manifest(second_digest, second, tag=["latest"]).status_code == 201  # latest is mutable
        refused = oci.put_manifest(second_digest, second, tag=["2.0", "1.0"])
        assert_denied(refused, "'1.0'", "frozen/params", f"immutable tag rule {rule_id}")
        assert oci.api.head("/manifests/2.0").status_code == 404  # a refused push leaves nothing behind
        assert (oci.digest_of("1.0"), oci.digest_of("latest")) == (first_digest, second_digest)
    finally:
        delete_rule(ee, instance_id, "frozen", rule_id)


def test_deletes_of_covered_tags_are_refused(ee: Enterprise, world: dict[str, Any]) -> None:
    instance_id, host, layout = world["instance"], world["host"], world["layout"]
    push(layout, "one", f"{host}/frozen/keep:v1")
    push(layout, "one", f"{host}/frozen/keep:also")  # the same manifest under a tag no rule covers
    rule_id = create_rule(ee, instance_id, "frozen", repositories="keep", tags="v1")
    oci = Oci(host, "frozen/keep")
    digest = layouts.manifest_digest("immutable one")
    try:
        assert_denied(oci.api.delete("/manifests/v1"), "'v1'", f"immutable tag rule {rule_id}")
        assert_denied(oci.api.delete(f"/manifests/{digest}"), digest, "'v1'")
        where = {"instance_id": instance_id, "namespace_name": "frozen", "repository_name": "keep"}
        with pytest.raises(ClientRequestException) as caught:
            ee.client.delete_instance_tag(DeleteInstanceTagRequest(**where, tag_name="v1"))
        assert_immutable(caught, "'v1'", f"immutable tag rule {rule_id}")
        for reference in ("v1", "also", digest):  # "also" names the manifest v1 needs
            with pytest.raises(ClientRequestException) as caught:
                ee.client.delete_instance_artifact(DeleteInstanceArtifactRequest(**where, reference=reference))
            assert_immutable(caught, "'v1'")
        with pytest.raises(ClientRequestException) as caught:
            ee.client.delete_instance_repository(DeleteInstanceRepositoryRequest(**where))
        assert_immutable(caught, "frozen/keep", "'v1'")
        with ee.http() as api:  # the shared edition's API sent to the instance's host name
            shared = api.delete(f"http://{host}/v2/manage/namespaces/frozen/repos/keep/tags/v1")
            assert (shared.status_code, shared.json()["error_code"]) == (403, IMMUTABLE_CODE), shared.text
            shared = api.delete(f"http://{host}/v2/manage/namespaces/frozen/repos/keep")
            assert (shared.status_code, shared.json()["error_code"]) == (403, IMMUTABLE_CODE), shared.text
        assert oci.digest_of("v1") == digest
        assert oci.api.delete("/manifests/also").status_code == 202  # an uncovered tag still goes
    finally:
        delete_rule(ee, instance_id, "frozen", rule_id)
    assert oci.api.delete(f"/manifests/{digest}").status_code == 202
    ee.client.delete_instance_repository(
        DeleteInstanceRepositoryRequest(instance_id=instance_id, namespace_name="frozen", repository_name="keep")
    )


def test_the_children_of_a_covered_index_stay(ee: Enterprise, world: dict[str, Any]) -> None:
    instance_id, host = world["instance"], world["host"]
    oci = Oci(host, "frozen/multi")
    children = [oci.image(f"platform {arch}") for arch in ("amd64", "arm64")]
    for manifest, digest in children:
        assert oci.put_manifest(digest, manifest).status_code == 201
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {
                    "mediaType": layouts.OCI_MANIFEST,
                    "digest": digest,
                    "size": len(manifest),
                    "platform": {"architecture": arch, "os": "linux"},
                }
                for (manifest, digest), arch in zip(children, ("amd64", "arm64"), strict=True)
            ],
        }
    ).encode()
    assert oci.put_manifest("v1", index, "application/vnd.oci.image.index.v1+json").status_code == 201
    rule_id = create_rule(ee, instance_id, "frozen", repositories="multi", tags="v1")
    try:
        assert_denied(oci.api.delete(f"/manifests/{children[1][1]}"), children[1][1], "'v1'")
    finally:
        delete_rule(ee, instance_id, "frozen", rule_id)


def test_concurrent_pushes_of_a_new_covered_tag(ee: Enterprise, world: dict[str, Any]) -> None:
    """Eight different manifests pushed at once as the same new covered tag: exactly one wins."""
    instance_id, host = world["instance"], world["host"]
    rule_id = create_rule(ee, instance_id, "frozen", repositories="race", tags="v1")
    pushers = [Oci(host, "frozen/race") for _ in range(8)]
    images = [pusher.image(f"race {i}") for i, pusher in enumerate(pushers)]
    try:
        with ThreadPoolExecutor(len(pushers)) as pool:
            answers = list(pool.map(lambda i: pushers[i].put_manifest("v1", images[i][0]), range(len(pushers))))
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [201] + [403] * 7, [a.text for a in answers]
        winner = next(i for i, a in enumerate(answers) if a.status_code == 201)
        assert pushers[0].digest_of("v1") == images[winner][1]
        tags = pushers[0].api.get("/tags/list").json()["tags"]
        assert tags == ["v1"]
    finally:
        delete_rule(ee, instance_id, "frozen", rule_id)


def test_signature_tags_are_not_covered(ee: Enterprise, world: dict[str, Any]) -> None:
    """cosign stores a subject's signatures under ``sha256-<hex>.sig``, rewritten as signatures are added."""
    instance_id, host = world["instance"], world["host"]
    rule_id = create_rule(ee, instance_id, "frozen", repositories="signed", tags="**")
    oci = Oci(host, "frozen/signed")
    try:
        manifest, digest = oci.image("signed subject")
        assert oci.put_manifest("v1", manifest).status_code == 201
        signature_tag = "sha256-" + digest.split(":")[1] + ".sig"
        for content in ("first signature", "second signature"):
            signature, _ = oci.image(content)
            assert oci.put_manifest(signature_tag, signature).status_code == 201
        assert oci.digest_of(signature_tag) == layouts.manifest_digest("second signature")
        assert_denied(oci.put_manifest("v1", oci.image("another subject")[0]), "'v1'")
    finally:
        delete_rule(ee, instance_id, "frozen", rule_id)


# podman ---------------------------------------------------------------------------------------------
@pytest.fixture
def podman() -> Iterator[Tool]:
    """podman with a private vfs storage, HOME and auth file below a short directory in /tmp."""
    if shutil.which("podman") is None:
        pytest.skip("Debian package podman is not installed")
    with state_dir("imm-pm-") as root:
        env = private_env(root / "home")
        storage_conf = root / "storage.conf"
        storage_conf.write_text(f'[storage]\ndriver = "vfs"\ngraphroot = "{root / "s"}"\nrunroot = "{root / "r"}"\n')
        env["CONTAINERS_STORAGE_CONF"] = str(storage_conf)
        yield Tool(
            (
                "podman",
                "--root",
                str(root / "s"),
                "--runroot",
                str(root / "r"),
                "--storage-driver",
                "vfs",
                "--tmpdir",
                str(root / "tmp"),
                "--events-backend",
                "none",
                "--cgroup-manager",
                "cgroupfs",
            ),
            env,
        )


@pytest.mark.e2e
def test_podman_pushes_a_covered_tag_once(ee: Enterprise, world: dict[str, Any], podman: Tool) -> None:
    if not ee.server.env["MOORAGE_DATABASE_URL"].startswith("sqlite"):
        pytest.skip("the client's side is the same on both databases (skopeo runs on both)")
    instance_id, host, layout = world["instance"], world["host"], world["layout"]
    rule_id = create_rule(ee, instance_id, "frozen", repositories="podman", tags="**")
    creds = "--creds=" + ":".join(CREDS)
    try:
        for name in ("one", "two"):
            image_id = podman("pull", "--quiet", f"oci:{layout}:{name}").strip().splitlines()[-1]
            podman("tag", image_id, f"localhost/immutable:{name}")
        podman("push", "--tls-verify=false", creds, "localhost/immutable:one", f"{host}/frozen/podman:v1")
        podman("push", "--tls-verify=false", creds, "localhost/immutable:one", f"{host}/frozen/podman:v1")
        refused = podman.run("push", "--tls-verify=false", creds, "localhost/immutable:two", f"{host}/frozen/podman:v1")
        assert refused.returncode != 0
        assert "denied" in refused.stderr and f"immutable tag rule {rule_id}" in refused.stderr, refused.stderr
        pushed_one = Oci(host, "frozen/podman").digest_of("v1")
        assert (
            podman.run(
                "push", "--tls-verify=false", creds, "localhost/immutable:one", f"{host}/frozen/podman:v1"
            ).returncode
            == 0
        )
        assert Oci(host, "frozen/podman").digest_of("v1") == pushed_one
    finally:
        delete_rule(ee, instance_id, "frozen", rule_id)
