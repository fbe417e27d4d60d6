"""``moorage config``: the settings moorage would run with (secrets redacted), or their reference."""

from __future__ import annotations

import json

import typer

from moorage.settings import Settings, settings_markdown


def register(app: typer.Typer) -> None:
    """Add the ``config`` command."""

    @app.command()
    def config(
        reference: bool = typer.Option(False, "--reference", help="Print every setting as a Markdown table."),
    ) -> None:
        """Show the effective configuration (environment MOORAGE_*, the MOORAGE_CONFIG TOML file, defaults)."""
        if reference:
            typer.echo(settings_markdown(), nl=False)
            return
        effective = json.loads(Settings().model_dump_json())
        for key in ("database_url", "redis_url"):  # URLs may carry passwords
            effective[key] = redact_url(effective[key])
        typer.echo(json.dumps(effective, indent=2))


def redact_url(url: str) -> str:
    """``scheme://user:***@host/...``: the URL without its password."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url
