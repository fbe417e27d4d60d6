"""First-start and every-start preparation: migrate the schema, create the default instance and,
when no user exists yet, the administrator."""

from __future__ import annotations

import sys

from moorage.domain.registry import DEFAULT_INSTANCE
from moorage.metadata.database import Database
from moorage.metadata.migrate import upgrade
from moorage.metadata.queries import repositories
from moorage.settings import Settings


def bootstrap(settings: Settings) -> None:
    """Bring the database to the current schema and make sure the defaults exist (idempotent)."""
    from moorage.auth.keys import load_master_key
    from moorage.auth.tokens import TokenSigner
    from moorage.services.identity import IdentityService

    database = Database(settings.resolved_database_url, pool_size=1)
    try:
        upgrade(database)
        database.run_write(lambda conn: repositories.ensure_instance(conn, DEFAULT_INSTANCE, DEFAULT_INSTANCE))
        master_key = load_master_key(settings)
        identity = IdentityService(database, settings=settings.auth, master_key=master_key,
                                   signer=TokenSigner(master_key, registry_service=settings.auth.registry_service))
        configured = settings.auth.admin_password.get_secret_value() if settings.auth.admin_password else None
        generated = identity.bootstrap_admin(configured)
        if generated is not None:
            # Printed once, to the terminal, never to the log.
            print(f"moorage: created administrator {settings.auth.admin_user!r} with password: {generated}",
                  file=sys.stderr, flush=True)
    finally:
        database.dispose()
