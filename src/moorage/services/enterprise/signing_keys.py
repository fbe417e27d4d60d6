"""Signing keys held by moorage (what SWR delegates to KMS): ECDSA P-256 key pairs whose private
halves are sealed with the master key (bound to the key id) and never leave the server; the public
half is handed out as PEM for verifiers (``skopeo``/``podman`` ``sigstoreSigned`` policies,
``cosign verify --key``)."""

from __future__ import annotations

import re
import secrets

import anyio.to_thread
from sqlalchemy.engine import Connection

from moorage.auth.keys import MasterKey
from moorage.domain.enterprise import Page, PageRequest, SigningKey
from moorage.domain.errors import Conflict, Invalid, NotFound
from moorage.domain.identity import Principal
from moorage.metadata.database import Database
from moorage.metadata.queries import enterprise_signing as q
from moorage.signing import SigningError, key_algorithm

_KEY_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def sealing_context(key_id: str) -> str:
    """The master-key context that binds a sealed private key to its row."""
    return f"signing-key:{key_id}"


class SigningKeyService:
    """Create, list, show and delete signing keys of an instance."""

    def __init__(self, db: Database, master_key: MasterKey) -> None:
        self.db = db
        self.master_key = master_key

    async def create(
        self, principal: Principal, *, instance_id: str, name: str, description: str, algorithm: str
    ) -> SigningKey:
        """A new key pair (the private half sealed at once)."""
        if not _KEY_NAME.fullmatch(name):
            raise Invalid(f"invalid key name {name!r}: 1-64 letters, digits, '_' or '-'")
        try:
            generator = key_algorithm(algorithm)
        except SigningError as exc:
            raise Invalid(str(exc)) from exc
        pair = await anyio.to_thread.run_sync(generator.generate)
        key_id = secrets.token_hex(16)
        sealed = self.master_key.encrypt(pair.private_pem, context=sealing_context(key_id))

        def work(conn: Connection) -> SigningKey:
            created = q.create_key(
                conn,
                key_id=key_id,
                instance_id=instance_id,
                name=name,
                description=description[:255],
                algorithm=pair.algorithm,
                public_key_pem=pair.public_pem,
                private_key_encrypted=sealed,
                creator=principal.user_name,
            )
            if created is None:
                raise Conflict(f"a signing key called {name!r} already exists", reason="signing_key_exists")
            return created

        return await self.db.write(work)

    async def list_keys(self, *, instance_id: str, page: PageRequest) -> Page[SigningKey]:
        """An instance's keys."""
        return await self.db.read(lambda conn: q.list_keys(conn, instance_id, offset=page.offset, limit=page.limit))

    async def get(self, *, instance_id: str, key_id: str) -> SigningKey:
        """One key (public half only)."""
        found = await self.db.read(lambda conn: q.get_key(conn, instance_id, key_id))
        if found is None:
            raise NotFound(f"signing key {key_id!r} not found", reason="signing_key_not_found")
        return found

    async def delete(self, *, instance_id: str, key_id: str) -> None:
        """Delete a key no policy uses."""

        def work(conn: Connection) -> None:
            if q.get_key(conn, instance_id, key_id) is None:
                raise NotFound(f"signing key {key_id!r} not found", reason="signing_key_not_found")
            used = q.policies_using_key(conn, key_id)
            if used:
                raise Conflict(
                    f"signing key {key_id!r} is used by {used} signature policies; change them first",
                    reason="signing_key_in_use",
                )
            q.delete_key(conn, instance_id, key_id)

        await self.db.write(work)
