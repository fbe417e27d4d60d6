"""``moorage audit``: the operator's view of the audit log, every event moorage recorded (pushes,
pulls, deletes, management changes, scans, logins, IAM and HSS changes) of every instance and
account. ``ListAuditLogs`` serves an Enterprise Edition instance's to its administrators; the shared
edition's and the accounts' own have no SWR operation, so this is where they are read."""

from __future__ import annotations

import asyncio
import datetime
import json
import re
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from moorage.domain.errors import Invalid
from moorage.domain.events import Event

PIPED_WIDTH = 200
"""Columns of the table when the output is not a terminal (rich's default, 80, would wrap every row)."""

_RELATIVE = re.compile(r"^(\d{1,6})([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def since_ms(text: str, *, now: datetime.datetime | None = None) -> int:
    """Epoch milliseconds of ``--since``: a span back from now (``90m``, ``24h``, ``7d``) or an ISO
    8601 time (UTC when it names no zone)."""
    moment = now or datetime.datetime.now(datetime.UTC)
    relative = _RELATIVE.match(text.strip())
    if relative:
        return int((moment.timestamp() - int(relative[1]) * _UNIT_SECONDS[relative[2]]) * 1000)
    try:
        parsed = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        raise Invalid(f"--since takes a span such as 24h or 7d, or an ISO 8601 time; got {text[:40]!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return int(parsed.timestamp() * 1000)


def as_json(event: Event) -> dict[str, object]:
    """One event as a JSON object (one per line in ``--json`` output)."""
    return {
        "id": event.id,
        "time": datetime.datetime.fromtimestamp(event.occurred_at / 1000, datetime.UTC).isoformat(),
        "instance": event.instance_id,
        "account": event.domain_id,
        "operation": str(event.operation),
        "resource_type": str(event.resource_type),
        "resource": event.resource,
        "result": str(event.result),
        "user": event.actor.label,
        "user_account": event.actor.domain_name,
        "via": event.actor.via,
        "address": event.client_address,
        "detail": dict(event.detail),
    }


def register(app: typer.Typer) -> None:
    """Add the ``audit`` command."""

    @app.command("audit")
    def audit(
        instance: str | None = typer.Option(
            None, help="Only this registry instance ('default': the shared edition); all when omitted."
        ),
        operation: str | None = typer.Option(None, help="create, update, delete, pull, scan or login."),
        resource_type: str | None = typer.Option(None, "--resource-type", help="artifact, tag, user, quota, ..."),
        user: str | None = typer.Option(None, help="Only what this user name did (or tried, for logins)."),
        account: str | None = typer.Option(None, help="Only events of this account (domain id)."),
        since: str | None = typer.Option(None, help="From this long ago (90m, 24h, 7d) or this ISO 8601 time."),
        limit: int = typer.Option(100, min=1, max=10_000, help="Newest events shown at most."),
        json_lines: bool = typer.Option(False, "--json", help="One JSON object per event and line."),
        config: Path | None = typer.Option(None, help="TOML configuration file [env MOORAGE_CONFIG]"),
    ) -> None:
        """Print recorded events, newest first. Exit status 2 for an invalid filter."""
        from moorage.cli.serve import use_config_file
        from moorage.metadata.database import Database
        from moorage.services.events.audit import AuditLog, AuditQuery
        from moorage.settings import Settings

        use_config_file(config)
        settings = Settings()
        database = Database(settings.resolved_database_url, pool_size=1)
        try:
            query = AuditQuery(
                instance_id=instance,
                operation=operation,
                resource_type=resource_type,
                actor_name=user,
                domain_id=account,
                since=since_ms(since) if since else None,
                limit=limit,
            )
            found = asyncio.run(AuditLog(database).search(query))
        except Invalid as error:
            typer.echo(f"moorage audit: {error.message}", err=True)
            raise typer.Exit(2) from None
        finally:
            database.dispose()
        if json_lines:
            for event in found:
                typer.echo(json.dumps(as_json(event), sort_keys=True))
            return
        table = Table("time (UTC)", "instance", "user", "address", "operation", "resource", "result")
        for event in found:
            shown = as_json(event)
            table.add_row(
                str(shown["time"])[:19],
                event.instance_id,
                event.actor.label,
                event.client_address,
                f"{event.operation} {event.resource_type}",
                event.resource,
                str(event.result),
            )
        Console(width=None if sys.stdout.isatty() else PIPED_WIDTH).print(table)
