"""``moorage admin``: users, access keys and projects, straight on the database (run it where the
server's settings and data directory are). Each command runs the same service methods the API
calls, as the operator (``OPERATOR``: authority over every account)."""

from __future__ import annotations

import asyncio
import datetime
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from moorage.domain.errors import MoorageError
from moorage.domain.identity import OPERATOR, AccessKey
from moorage.settings import Settings

if TYPE_CHECKING:
    from moorage.services.access_keys import AccessKeyService, NewAccessKey
    from moorage.services.users import UserService

T = TypeVar("T")

admin = typer.Typer(help="Administer users, access keys and projects.", no_args_is_help=True)
users_app = typer.Typer(help="Users.", no_args_is_help=True)
keys_app = typer.Typer(help="Access keys (AK/SK).", no_args_is_help=True)
projects_app = typer.Typer(help="Projects (one per domain and region).", no_args_is_help=True)
admin.add_typer(users_app, name="user")
admin.add_typer(keys_app, name="accesskey")
admin.add_typer(projects_app, name="project")


def _print(*objects: object) -> None:
    """Print to standard output, rich markup and tables rendered."""
    Console().print(*objects)


@dataclass(frozen=True, slots=True)
class AdminServices:
    """The services the commands call."""

    users: UserService
    access_keys: AccessKeyService


def _run(operation: Callable[[AdminServices], Awaitable[T]]) -> T:
    """Run one operation on the services of the configured data directory (migrated first); a
    refused operation prints its message and exits 1."""
    from moorage.auth.keys import load_master_key
    from moorage.bootstrap import bootstrap, prepare_data_dir
    from moorage.metadata.database import Database
    from moorage.services.access_keys import AccessKeyService
    from moorage.services.users import UserService

    settings = Settings()
    prepare_data_dir(settings)
    bootstrap(settings)
    database = Database(settings.resolved_database_url, pool_size=1)
    users = UserService.from_settings(database, settings.auth)
    services = AdminServices(users, AccessKeyService(database, master_key=load_master_key(settings), users=users))

    async def run() -> T:
        return await operation(services)

    try:
        return asyncio.run(run())
    except MoorageError as error:
        _print(f"[red]error:[/red] {error.message}")
        raise typer.Exit(1) from error
    finally:
        database.dispose()


def _when(ms: int) -> str:
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@users_app.command("create")
def user_create(
    name: str,
    password: str = typer.Option(
        ...,
        prompt=True,
        hide_input=True,
        confirmation_prompt=True,
        envvar="MOORAGE_NEW_USER_PASSWORD",
        help="At least 8 characters.",
    ),
    domain: str | None = typer.Option(
        None, help="Domain (tenant); a new one is created if missing. Default: a new domain named after the user."
    ),
    is_admin: bool = typer.Option(False, "--admin", help="Make the user an administrator of the domain."),
) -> None:
    """Create a user."""
    user = _run(
        lambda s: s.users.create_user(
            name=name, password=password, caller=OPERATOR, domain_name=domain, is_admin=is_admin
        )
    )
    _print(f"created user {user.name} (id {user.id}) in domain {user.domain_name}")


@users_app.command("list")
def user_list(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List users."""
    found = _run(lambda s: s.users.users(caller=OPERATOR))
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {"id": u.id, "name": u.name, "domain": u.domain_name, "admin": u.is_admin, "enabled": u.enabled}
                    for u in found
                ]
            )
        )
        return
    table = Table("name", "id", "domain", "admin", "created")
    for u in found:
        table.add_row(u.name, u.id, u.domain_name, "yes" if u.is_admin else "", _when(u.created_at))
    _print(table)


@users_app.command("delete")
def user_delete(name: str) -> None:
    """Delete a user (their access keys and permissions go too)."""

    async def delete(s: AdminServices) -> None:
        await s.users.delete_user((await s.users.user_named(name)).id, caller=OPERATOR)

    _run(delete)
    _print(f"deleted user {name}")


@keys_app.command("create")
def key_create(
    user: str,
    description: str = typer.Option("", help="A note for the key."),
    as_json: bool = typer.Option(False, "--json", help='Print {"access": ..., "secret": ...} as IAM does.'),
) -> None:
    """Create an AK/SK for a user (at most two); the secret is printed once."""

    async def create(s: AdminServices) -> NewAccessKey:
        owner = await s.users.user_named(user)
        return await s.access_keys.create_access_key(owner.id, caller=OPERATOR, description=description)

    created = _run(create)
    if as_json:
        typer.echo(json.dumps({"access": created.key.access, "secret": created.secret}))
    else:
        _print(f"access key: {created.key.access}\nsecret key: {created.secret}\n(the secret key is shown only now)")


@keys_app.command("list")
def key_list(user: str | None = typer.Option(None, help="Only this user's keys.")) -> None:
    """List access keys (never their secrets)."""

    async def listed(s: AdminServices) -> list[AccessKey]:
        owner = None if user is None else (await s.users.user_named(user)).id
        return await s.access_keys.access_keys(caller=OPERATOR, user_id=owner)

    found = _run(listed)
    table = Table("access key", "user id", "enabled", "created", "description")
    for k in found:
        table.add_row(k.access, k.user_id, "yes" if k.enabled else "no", _when(k.created_at), k.description)
    _print(table)


@keys_app.command("delete")
def key_delete(access: str) -> None:
    """Delete an access key."""
    _run(lambda s: s.access_keys.delete_access_key(access, caller=OPERATOR))
    _print(f"deleted access key {access}")


@keys_app.command("disable")
def key_disable(access: str) -> None:
    """Disable an access key (signatures and logins with it are refused)."""
    _run(lambda s: s.access_keys.update_access_key(access, caller=OPERATOR, enabled=False))
    _print(f"disabled access key {access}")


@keys_app.command("enable")
def key_enable(access: str) -> None:
    """Enable an access key again."""
    _run(lambda s: s.access_keys.update_access_key(access, caller=OPERATOR, enabled=True))
    _print(f"enabled access key {access}")


@projects_app.command("list")
def project_list(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List projects (ids to use as project_id with the SDKs)."""
    found = _run(lambda s: s.users.projects())
    if as_json:
        typer.echo(json.dumps([{"id": p.id, "name": p.name, "domain_id": p.domain_id} for p in found]))
        return
    table = Table("project id", "name (region)", "domain id")
    for p in found:
        table.add_row(p.id, p.name, p.domain_id)
    _print(table)


def register(app: typer.Typer) -> None:
    """Add the ``admin`` command group."""
    app.add_typer(admin, name="admin")
