"""Where things live in storage. The whole layout, in one place::

    <root>/
    ├── blobs/
    │   └── <algorithm>/              sha256 | sha512
    │       └── <first two hex>/
    │           └── <hex>/
    │               └── data          the blob's bytes, written once, never modified
    ├── uploads/
    │   └── <upload id>/
    │       └── data                  bytes received so far for that upload session
    ├── tmp/                          the filesystem driver's files being written (``put_content``);
    │                                 the purge removes idle ones a killed process left
    └── vulndb/
        └── <sha256 hex>.sqlite       the advisory database published for every node (when shared:
                                      ``services/security/vulndb_share.py``)

Blobs appear under ``blobs/`` only by an atomic move of a fully received, digest-verified upload,
so a partial blob is never visible. Manifests are kept in the metadata database, not here.
"""

from __future__ import annotations

import re

from moorage.domain.digests import Digest

_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")


def blob_data(digest: Digest) -> str:
    """The path of a blob's bytes."""
    return f"{BLOBS_ROOT}/{blob_data_in_blobs_root(digest)}"


def blob_data_in_blobs_root(digest: Digest) -> str:
    """The path of a blob's bytes relative to ``blobs/`` (built from the verified digest alone)."""
    return f"{digest.algorithm}/{digest.hex[:2]}/{digest.hex}/data"


def upload_dir(upload_id: str) -> str:
    """The directory of one upload session."""
    if not _UPLOAD_ID.fullmatch(upload_id):
        raise ValueError(f"invalid upload id {upload_id!r}")
    return f"uploads/{upload_id}"


def upload_data(upload_id: str) -> str:
    """The bytes received so far for an upload session."""
    return f"{upload_dir(upload_id)}/data"


UPLOADS_ROOT = "uploads"
BLOBS_ROOT = "blobs"
VULNDB_ROOT = "vulndb"
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


def advisories(sha256_hex: str) -> str:
    """A published advisory database, named by its SHA-256."""
    if not _SHA256_HEX.fullmatch(sha256_hex):
        raise ValueError(f"invalid SHA-256 {sha256_hex!r}")
    return f"{VULNDB_ROOT}/{sha256_hex}.sqlite"


def is_upload_id(text: str) -> bool:
    """Whether ``text`` has the form of an upload id (32 lowercase hex characters)."""
    return bool(_UPLOAD_ID.fullmatch(text))
