"""``moorage admin``: users, access keys and projects, straight on the database (run it where the
server's settings and data directory are)."""

from __future__ import annotations

import asyncio
import datetime
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from moorage.domain.errors import MoorageError
from moorage.settings import Settings

if TYPE_CHECKING:
    from moorage.services.identity import IdentityService

admin = typer.Typer(help="Administer users, access keys and projects.", no_args_is_help=True)
users_app = typer.Typer(help="Users.", no_args_is_help=True)
keys_app = typer.Typer(help="Access keys (AK/SK).", no_args_is_help=True)
projects_app = typer.Typer(help="Projects (one per domain and region).", no_args_is_help=True)
admin.add_typer(users_app, name="user")
admin.add_typer(keys_app, name="accesskey")
admin.add_typer(projects_app, name="project")
console = Console()


@contextmanager
def _identity() -> Iterator[IdentityService]:
    from moorage.auth.keys import load_master_key
    from moorage.auth.tokens import TokenSigner
    from moorage.bootstrap import bootstrap, prepare_data_dir
    from moorage.metadata.database import Database
    from moorage.services.identity import IdentityService

    settings = Settings()
    prepare_data_dir(settings)
    bootstrap(settings)
    database = Database(settings.resolved_database_url, pool_size=1)
    master_key = load_master_key(settings)
    try:
        yield IdentityService(database, settings=settings.auth, master_key=master_key,
                              signer=TokenSigner(master_key, registry_service=settings.auth.registry_service))
    except MoorageError as error:
        console.print(f"[red]error:[/red] {error.message}")
        raise typer.Exit(1) from error
    finally:
        database.dispose()


def _when(ms: int) -> str:
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@users_app.command("create")
def user_create(
    name: str,
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True,
                                 envvar="MOORAGE_NEW_USER_PASSWORD", help="At least 8 characters."),
    domain: str | None = typer.Option(None, help="Domain (tenant); a new one is created if missing. "
                                                 "Default: a new domain named after the user."),
    is_admin: bool = typer.Option(False, "--admin", help="Make the user an administrator of the domain."),
) -> None:
    """Create a user."""
    with _identity() as identity:
        user = identity.create_user(name=name, password=password, domain_name=domain, is_admin=is_admin)
        console.print(f"created user {user.name} (id {user.id}) in domain {user.domain_name}")


@users_app.command("list")
def user_list(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List users."""
    with _identity() as identity:
        found = identity.list_users()
    if as_json:
        typer.echo(json.dumps([{"id": u.id, "name": u.name, "domain": u.domain_name, "admin": u.is_admin,
                                "enabled": u.enabled} for u in found]))
        return
    table = Table("name", "id", "domain", "admin", "created")
    for u in found:
        table.add_row(u.name, u.id, u.domain_name, "yes" if u.is_admin else "", _when(u.created_at))
    console.print(table)


@users_app.command("delete")
def user_delete(name: str) -> None:
    """Delete a user (their access keys and permissions go too)."""
    with _identity() as identity:
        identity.delete_user(name)
    console.print(f"deleted user {name}")


@keys_app.command("create")
def key_create(
    user: str,
    description: str = typer.Option("", help="A note for the key."),
    as_json: bool = typer.Option(False, "--json", help='Print {"access": ..., "secret": ...} as IAM does.'),
) -> None:
    """Create an AK/SK for a user (at most two); the secret is printed once."""
    with _identity() as identity:
        created = identity.create_access_key(user_name=user, description=description)
    if as_json:
        typer.echo(json.dumps({"access": created.key.access, "secret": created.secret}))
    else:
        console.print(f"access key: {created.key.access}\nsecret key: {created.secret}\n"
                      "(the secret key is shown only now)")


@keys_app.command("list")
def key_list(user: str | None = typer.Option(None, help="Only this user's keys.")) -> None:
    """List access keys (never their secrets)."""
    with _identity() as identity:
        found = identity.list_access_keys(user_name=user)
    table = Table("access key", "user id", "enabled", "created", "description")
    for k in found:
        table.add_row(k.access, k.user_id, "yes" if k.enabled else "no", _when(k.created_at), k.description)
    console.print(table)


@keys_app.command("delete")
def key_delete(access: str) -> None:
    """Delete an access key."""
    with _identity() as identity:
        identity.delete_access_key(access)
    console.print(f"deleted access key {access}")


@keys_app.command("disable")
def key_disable(access: str) -> None:
    """Disable an access key (signatures and logins with it are refused)."""
    with _identity() as identity:
        identity.set_access_key_enabled(access, False)
    console.print(f"disabled access key {access}")


@keys_app.command("enable")
def key_enable(access: str) -> None:
    """Enable an access key again."""
    with _identity() as identity:
        identity.set_access_key_enabled(access, True)
    console.print(f"enabled access key {access}")


@projects_app.command("list")
def project_list(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List projects (ids to use as project_id with the SDKs)."""
    with _identity() as identity:
        found = asyncio.run(identity.projects())
    if as_json:
        typer.echo(json.dumps([{"id": p.id, "name": p.name, "domain_id": p.domain_id} for p in found]))
        return
    table = Table("project id", "name (region)", "domain id")
    for p in found:
        table.add_row(p.id, p.name, p.domain_id)
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add the ``admin`` command group."""
    app.add_typer(admin, name="admin")
