"""Sources: ``KIND:PATH_OR_URL`` arguments, the importer factory, and fetching a source to disk.

A source is an importer kind and where its feed is: a local file or directory, or an http(s) URL
that is downloaded (streamed to a file, size-capped) before the importer reads it. The sources a
database was built from are kept in its metadata, so ``vulndb update`` can fetch them again.

A URL whose file name is ``archive_latest.txt`` is a pointer, as Red Hat publishes one beside its
dated CSAF VEX archives (``csaf_vex_YYYY-MM-DD.tar.zst``): the file it names, in the same
directory, is what is downloaded, so a configured source keeps following the newest archive.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import httpx

from moorage.scanner.advisories.alpine import AlpineSecdbImporter
from moorage.scanner.advisories.debian import DebianTrackerImporter
from moorage.scanner.advisories.errors import SourceFetchError, SourceSpecError
from moorage.scanner.advisories.interface import AdvisoryImporter
from moorage.scanner.advisories.nvd import NvdImporter
from moorage.scanner.advisories.osv import OsvImporter
from moorage.scanner.advisories.redhat import RedHatCsafImporter

IMPORTERS: dict[str, type[AdvisoryImporter]] = {
    OsvImporter.kind: OsvImporter,
    DebianTrackerImporter.kind: DebianTrackerImporter,
    AlpineSecdbImporter.kind: AlpineSecdbImporter,
    RedHatCsafImporter.kind: RedHatCsafImporter,
    NvdImporter.kind: NvdImporter,
}
"""Importer class per source kind."""

MAX_DOWNLOAD_BYTES = 8 << 30
"""Largest download accepted (osv.dev's all-ecosystems zip is ~1 GiB; Red Hat's VEX archive less)."""

POINTER_NAME = "archive_latest.txt"
"""File name of a URL that names the newest archive beside it (Red Hat's CSAF VEX directory)."""
MAX_POINTER_BYTES = 4096
_ARCHIVE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")

DownloadProgress = Callable[[int, int | None], None]
"""Called with (bytes received so far, total bytes if the server said)."""


def _known_kinds() -> str:
    return ", ".join(sorted(IMPORTERS))


def importer_for(kind: str) -> AdvisoryImporter:
    """A new importer for ``kind``; ``SourceSpecError`` names the known kinds otherwise."""
    try:
        return IMPORTERS[kind]()
    except KeyError:
        raise SourceSpecError(f"unknown source kind {kind!r}; known: {_known_kinds()}") from None


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """One source: importer kind and location."""

    kind: str
    """Importer kind."""
    location: str
    """Local path or http(s) URL."""

    @property
    def is_url(self) -> bool:
        """Whether the location is fetched over HTTP."""
        return self.location.startswith(("http://", "https://"))

    def __str__(self) -> str:
        return f"{self.kind}:{self.location}"


def parse_source(text: str) -> SourceSpec:
    """Read ``KIND:PATH_OR_URL`` (``osv:/data/PyPI.zip``, ``debian:https://.../json``)."""
    kind, separator, location = text.partition(":")
    kind = kind.strip().lower()
    if not separator or not location.strip():
        raise SourceSpecError(f"{text!r}: a source is KIND:PATH_OR_URL, e.g. osv:/data/osv/PyPI.zip")
    if kind not in IMPORTERS:
        raise SourceSpecError(f"{text!r}: unknown source kind {kind!r}; known: {_known_kinds()}")
    location = location.strip()
    if location.startswith("file://"):
        location = unquote(urlparse(location).path)
    return SourceSpec(kind, location)


def _download_name(url: str, position: int) -> str:
    base = Path(urlparse(url).path).name or "feed"
    return f"{position:02d}-{re.sub(r'[^A-Za-z0-9._-]', '_', base)[:100]}"


def _follow_pointer(spec: SourceSpec, http: httpx.Client) -> str:
    """The URL of the archive a pointer file names (a bare file name, in the pointer's directory)."""
    with http.stream("GET", spec.location) as response:
        if response.status_code >= 400:
            raise SourceFetchError(f"{spec}: HTTP {response.status_code}")
        body = b""
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > MAX_POINTER_BYTES:
                raise SourceFetchError(f"{spec}: a pointer file larger than {MAX_POINTER_BYTES} bytes")
    name = body.decode("utf-8", "replace").strip()
    if not _ARCHIVE_NAME.match(name):
        raise SourceFetchError(f"{spec}: the pointer file does not name an archive ({name[:80]!r})")
    return urljoin(spec.location, name)


def fetch_source(
    spec: SourceSpec,
    work_dir: Path,
    *,
    position: int = 0,
    client: httpx.Client | None = None,
    progress: DownloadProgress | None = None,
    max_bytes: int = MAX_DOWNLOAD_BYTES,
) -> Path:
    """A local path holding the source's feed: the path itself, or a download into ``work_dir``."""
    if not spec.is_url:
        path = Path(spec.location).expanduser()
        if not path.exists():
            raise SourceFetchError(f"{spec}: no such file or directory")
        return path
    owned = client is None
    http = client or httpx.Client(follow_redirects=True, timeout=httpx.Timeout(60.0, connect=15.0))
    try:
        url = spec.location
        if Path(urlparse(url).path).name == POINTER_NAME:
            url = _follow_pointer(spec, http)
        target = work_dir / _download_name(url, position)
        with http.stream("GET", url) as response:
            if response.status_code >= 400:
                raise SourceFetchError(f"{spec}: HTTP {response.status_code}")
            declared = response.headers.get("content-length")
            total = int(declared) if declared and declared.isdigit() else None
            if total is not None and total > max_bytes:
                raise SourceFetchError(f"{spec}: {total} bytes is more than the {max_bytes} allowed")
            received = 0
            with target.open("wb") as out:
                for chunk in response.iter_raw(1 << 20):
                    received += len(chunk)
                    if received > max_bytes:
                        raise SourceFetchError(f"{spec}: more than the {max_bytes} bytes allowed")
                    out.write(chunk)
                    if progress is not None:
                        progress(received, total)
    except httpx.HTTPError as error:
        raise SourceFetchError(f"{spec}: download failed: {error}") from error
    finally:
        if owned:
            http.close()
    return target
