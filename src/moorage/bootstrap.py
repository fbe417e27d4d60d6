"""First-start and every-start preparation: migrate the schema, create the default instance and,
when no user exists yet, the administrator."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import sys

from moorage.auth.keys import MasterKey, MasterKeyMismatch
from moorage.domain.registry import DEFAULT_INSTANCE
from moorage.metadata.database import Database
from moorage.metadata.migrate import one_at_a_time, upgrade
from moorage.metadata.queries import repositories, system_facts
from moorage.settings import Settings

log = logging.getLogger(__name__)

MASTER_KEY_FACT = "master_key_check"


def prepare_data_dir(settings: Settings) -> None:
    """Set this process's umask (``settings.umask``: 0077 unless the operator wants group access) and
    create the data directory with the mode it allows (0700 by default); an existing directory is
    left as it is, with a warning when it is more open than that (it was made by an earlier version
    or by hand). Commands that write data call this first: every database, blob, upload and key file
    they create, and the processes they start, inherit the mask."""
    os.umask(settings.umask_bits)
    mode = 0o777 & ~settings.umask_bits
    try:
        settings.data_dir.mkdir(mode=mode, parents=True)
    except FileExistsError:
        current = stat.S_IMODE(settings.data_dir.stat().st_mode)
        if current & ~mode:
            log.warning(
                "the data directory %s has mode %04o, more open than the umask %s allows (%04o): "
                "see the README's deployment notes",
                settings.data_dir,
                current,
                settings.umask,
                mode,
            )
    else:
        os.chmod(settings.data_dir, mode)  # exactly this mode, not one a default ACL of its parent adds
    config = os.environ.get("MOORAGE_CONFIG")
    if config and os.path.isfile(config):
        config_mode = stat.S_IMODE(os.stat(config).st_mode)
        if config_mode & ~mode & 0o666:
            log.warning(
                "the configuration file %s has mode %04o, more open than the umask %s allows: if it "
                "holds secrets (the master key, passwords in URLs), chmod 600 it",
                config,
                config_mode,
                settings.umask,
            )


def bootstrap(settings: Settings) -> None:
    """Bring the database to the current schema and make sure the defaults exist (idempotent; nodes
    starting together on one PostgreSQL database take turns)."""
    database = Database(settings.resolved_database_url, pool_size=1)
    try:
        with one_at_a_time(database):
            _prepare(settings, database)
    finally:
        database.dispose()


def check_master_key(database: Database, key: MasterKey) -> None:
    """Refuse to go on with a master key other than the one the database was first started with
    (``MasterKeyMismatch``): every node of one database must share it, and a node with another one
    would refuse the others' tokens and fail to decrypt every stored secret, one request at a time."""
    mine = key.check_value()
    agreed = database.run_write(lambda conn: system_facts.settle(conn, MASTER_KEY_FACT, mine))
    if agreed != mine:
        raise MasterKeyMismatch(
            "the master key (MOORAGE_AUTH__MASTER_KEY, or master.key in the data directory) is not the one "
            "this database was first started with: every node of one database must use the same key"
        )


def _prepare(settings: Settings, database: Database) -> None:
    """Migrate, then create what is missing: the default instance and, on first start, the administrator."""
    from moorage.auth.keys import load_master_key
    from moorage.services.users import UserService

    upgrade(database)
    database.run_write(lambda conn: repositories.ensure_instance(conn, DEFAULT_INSTANCE, DEFAULT_INSTANCE))
    key = load_master_key(settings)  # created here, once, before any worker or command reads it
    check_master_key(database, key)
    users = UserService.from_settings(database, settings.auth)
    configured = settings.auth.admin_password.get_secret_value() if settings.auth.admin_password else None
    generated = asyncio.run(users.bootstrap_admin(configured))
    if generated is not None:
        # Printed once, to the terminal, never to the log.
        print(
            f"moorage: created administrator {settings.auth.admin_user!r} with password: {generated}",
            file=sys.stderr,
            flush=True,
        )
