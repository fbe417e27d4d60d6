"""What the job handlers of one worker process share, typed: built once when the worker starts."""

from __future__ import annotations

from dataclasses import dataclass

from moorage.auth.keys import MasterKey, load_master_key
from moorage.domain.jobs import JobSubmitter
from moorage.metadata.database import Database
from moorage.settings import Settings
from moorage.storage.blobstore import BlobStore


@dataclass(frozen=True)
class WorkerResources:
    """The settings, the database, the blob store and the queue every handler may use."""

    settings: Settings
    db: Database
    store: BlobStore
    queue: JobSubmitter
    """For jobs that queue follow-up jobs (a re-match after an advisory database update)."""

    def master_key(self) -> MasterKey:
        """The master key, read when a job needs it (signing keys, remote registries' passwords)."""
        return load_master_key(self.settings)


def worker_resources(settings: Settings, db: Database, queue: JobSubmitter) -> WorkerResources:
    """The resources of a worker process (the blob store from the ``storage`` settings)."""
    from moorage.services.wiring import storage_driver

    return WorkerResources(settings=settings, db=db, queue=queue, store=BlobStore(storage_driver(settings)))
