"""Pure rules of the Enterprise Edition: the paging of ListInstanceSignatureExecutionSubtasks (property
test against its wording), cron schedules (against a brute-force oracle), host names and domain-name validation."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import insert

from moorage.domain.cron import CronSchedule
from moorage.domain.errors import Invalid
from moorage.services.enterprise.instances import validate_domain_name, validate_instance_name
from moorage.services.enterprise.paging import page_request


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.none(), st.integers(-5, 400)), st.one_of(st.none(), st.integers(-5, 150)))
def test_paging_follows_the_subtask_listing_rules(offset: int | None, limit: int | None) -> None:
    size = 10 if limit is None else limit
    start = 0 if offset is None else offset
    valid = (not (offset not in (None, 0) and limit is None)) and 1 <= size <= 100 and start >= 0 and start % size == 0
    if valid:
        page = page_request(offset, limit)
        assert (page.offset, page.limit) == (start, size)
    else:
        with pytest.raises(Invalid):
            page_request(offset, limit)


def _brute(expression: str, moment: datetime.datetime) -> bool:
    """Oracle: expand every field to the set of values it names, the slow and obvious way."""
    bounds = [(0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
    fields = []
    for text, (low, high) in zip(expression.split(), bounds, strict=True):
        values: set[int] = set()
        for part in text.split(","):
            body, _, step = part.partition("/")
            first, last = (low, high) if body == "*" else (int(body.split("-")[0]), int(body.split("-")[-1]))
            if step and "-" not in body and body != "*":
                last = high
            values |= {v for v in range(first, last + 1) if (v - first) % int(step or 1) == 0}
        fields.append(values)
    weekdays = {0 if d == 7 else d for d in fields[5]}
    restricted = expression.split()[3] != "*", expression.split()[5] != "*"
    day, weekday = moment.day in fields[3], moment.isoweekday() % 7 in weekdays
    days_ok = (day or weekday) if all(restricted) else (day and weekday)
    return (
        moment.second in fields[0]
        and moment.minute in fields[1]
        and moment.hour in fields[2]
        and moment.month in fields[4]
        and days_ok
    )


_field = st.one_of(
    st.just("*"),
    st.integers(0, 5).map(str),
    st.integers(1, 7).map(lambda s: f"*/{s}"),
    st.tuples(st.integers(0, 3), st.integers(3, 6)).map(lambda t: f"{t[0]}-{t[1]}"),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_field, min_size=6, max_size=6),
    st.datetimes(datetime.datetime(2024, 1, 1), datetime.datetime(2030, 12, 31)),
)
def test_cron_agrees_with_brute_force(fields: list[str], moment: datetime.datetime) -> None:
    fields[3] = fields[3].replace("0", "1") if fields[3] in ("0", "0-3") else fields[3]
    fields[4] = "*" if fields[4] in ("0", "0-3", "0-4", "0-5", "0-6") else fields[4]
    expression = " ".join(fields)
    try:
        schedule = CronSchedule.parse(expression)
    except Invalid:
        return
    assert schedule.matches(moment.replace(tzinfo=datetime.UTC)) == _brute(expression, moment)


def test_cron_windows() -> None:
    every_minute = CronSchedule.parse("0 * * * * *")
    start = int(datetime.datetime(2025, 1, 1, 0, 0, 30, tzinfo=datetime.UTC).timestamp() * 1000)
    assert not every_minute.fired_between(start, start + 20_000)
    assert every_minute.fired_between(start, start + 31_000)
    for bad in ("* * * * *", "61 * * * * *", "* * * * * 8", "a * * * * *", "*/0 * * * * *"):
        with pytest.raises(Invalid):
            CronSchedule.parse(bad)


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("Registry.Example.COM", "registry.example.com"),
        ("127.0.0.5:5000", "127.0.0.5:5000"),
        ("*.example.com", "*.example.com"),
        ("a-b.example.com:443", "a-b.example.com"),
        ("a-b.example.com:8443", "a-b.example.com:8443"),
        ("localhost:5000", "localhost:5000"),
        ("[::FFFF:127.0.0.5]:5000", "127.0.0.5:5000"),
        ("127.5:5000", "127.0.0.5:5000"),
    ],
)
def test_valid_domain_names(text: str, normalised: str) -> None:
    assert validate_domain_name(text) == normalised


@pytest.mark.parametrize(
    "text", ["-a.example.com", "a..b", "exa mple.com", "*", "*.com:99999", "a_b.example.com", "x" * 101]
)
def test_invalid_domain_names(text: str) -> None:
    with pytest.raises(Invalid):
        validate_domain_name(text)


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("abc", True),
        ("my-registry-1", True),
        ("ab", False),
        ("a--b", False),
        ("abc-", False),
        ("1abc", False),
        ("Abc", False),
        ("a" * 49, False),
    ],
)
def test_instance_names(name: str, ok: bool) -> None:
    if ok:
        assert validate_instance_name(name) == name
    else:
        with pytest.raises(Invalid):
            validate_instance_name(name)


def test_host_directory(tmp_path: Path) -> None:
    """Exact names, names without the port, wildcards; anything else is the shared registry."""
    import asyncio

    from moorage.domain.registry import DEFAULT_INSTANCE
    from moorage.metadata.database import Database
    from moorage.metadata.migrate import upgrade
    from moorage.metadata.queries import enterprise_instances as q
    from moorage.metadata.tables import domains
    from moorage.services.enterprise.hosts import HostDirectory

    db = Database(f"sqlite:///{tmp_path / 'h.db'}")
    try:
        upgrade(db)
        with db.write_transaction() as conn:
            conn.execute(insert(domains).values(id="d" * 32, name="d", created_at=0))
            for instance_id, names in (("a", ["127.0.0.5:5000", "reg.example.test"]), ("b", ["*.apps.example.test"])):
                q.create_instance(
                    conn,
                    instance_id=instance_id,
                    name=f"inst-{instance_id}",
                    description="",
                    spec="swr.ee.professional",
                    charge_mode="postPaid",
                    enterprise_project_id="0",
                    domain_id="d" * 32,
                    project_id="p",
                    creation_job_id="j",
                )
                for number, name in enumerate(names):
                    q.add_domain_name(
                        conn,
                        domain_name_id=f"{instance_id}{number}",
                        instance_id=instance_id,
                        domain_name=name,
                        kind="custom",
                        certificate_id="",
                    )
        hosts = HostDirectory(db, ttl=60)

        def resolve(host: str | None) -> str:
            return asyncio.run(hosts.instance_for_host(host))

        assert resolve("127.0.0.5:5000") == "a"
        assert resolve("127.0.0.5:5001") == DEFAULT_INSTANCE  # another port is another registry
        assert resolve("REG.example.test.") == "a"
        assert resolve("reg.example.test:8443") == "a"  # a name given without port matches any port
        assert resolve("one.apps.example.test") == "b"
        assert resolve("one.apps.example.test:443") == "b"
        assert resolve("two.one.apps.example.test") == DEFAULT_INSTANCE  # a wildcard covers one label
        assert resolve("127.0.0.1:5000") == DEFAULT_INSTANCE
        assert resolve(None) == DEFAULT_INSTANCE
        assert asyncio.run(hosts.owner("a")) == "d" * 32 and asyncio.run(hosts.owner("zz")) is None
    finally:
        db.dispose()


def test_default_domain_name_on_a_named_registry(tmp_path: Path) -> None:
    """A registry with a DNS name gives each instance ``<name>.<registry host>``, which stays."""
    import asyncio

    from moorage.domain.errors import Conflict
    from moorage.domain.hosts import HostPolicy
    from moorage.domain.identity import Principal
    from moorage.metadata.database import Database
    from moorage.metadata.migrate import upgrade
    from moorage.metadata.tables import domains
    from moorage.services.enterprise.hosts import HostDirectory
    from moorage.services.enterprise.instances import InstanceService

    db = Database(f"sqlite:///{tmp_path / 'i.db'}")
    try:
        upgrade(db)
        with db.write_transaction() as conn:
            conn.execute(insert(domains).values(id="d" * 32, name="d", created_at=0))
        url = "https://Registry.Example.test:5443"
        service = InstanceService(db, HostDirectory(db, policy=HostPolicy.build(external_url=url)), external_url=url)
        admin = Principal(user_id="u", user_name="admin", domain_id="d" * 32, project_id="p", is_admin=True)

        async def scenario() -> None:
            created = await service.create(
                admin,
                name="prod",
                description="",
                spec="swr.ee.professional",
                charge_mode="postPaid",
                enterprise_project_id="0",
            )
            names = await service.domain_names(created.id, domain_name_id=None, domain_name=None)
            assert [(n.domain_name, n.type) for n in names] == [("prod.registry.example.test", "default")]
            assert await service.access_address(created.id) == "prod.registry.example.test:5443"
            assert await service.hosts.instance_for_host("prod.registry.example.test:5443") == created.id
            with pytest.raises(Conflict):
                await service.delete_domain_name(created.id, names[0].id)
            with pytest.raises(Invalid):  # the shared registry's own name
                await service.add_domain_name(created.id, domain_name="registry.example.test:5443", certificate_id="")

        asyncio.run(scenario())
    finally:
        db.dispose()


def _api_routes(routes: list[object]) -> list[object]:
    """Every ``APIRoute``, also inside included routers (FastAPI 0.165 keeps those as router objects)."""
    from fastapi.routing import APIRoute

    found: list[object] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            found += _api_routes(route.original_router.routes)
    return found


def test_every_enterprise_route_has_a_rule(tmp_path: Path) -> None:
    from moorage.api.enterprise import ROUTERS
    from moorage.app import create_app
    from moorage.settings import Settings

    app = create_app(Settings(data_dir=tmp_path))
    rules = app.state.access_rules
    served = {
        (method, route.path)
        for route in _api_routes(app.routes)  # type: ignore[attr-defined]
        for method in route.methods
    }  # type: ignore[attr-defined]
    enterprise = {
        (method, route.path)
        for router in ROUTERS
        for route in router.routes  # type: ignore[attr-defined]
        for method in route.methods
    }  # type: ignore[attr-defined]
    assert len(enterprise) > 50 and enterprise <= served
    assert sorted(r for r in enterprise if r not in rules) == []
    instance_kinds = {"instance", "instance_admin", "instance_namespace", "instance_repository"}
    for method, path in enterprise:
        if "{instance_id}" in path:
            assert rules[(method, path)].kind in instance_kinds, (method, path)
