"""How much of an image the scanner will read: the bounds that keep a hostile image (a
decompression bomb, a tar of a million names, a jar of jars of jars) from exhausting memory or time.

Two kinds of bound, with two outcomes:

* **Whole-image bounds** (:class:`ScanLimits` ``max_layer_bytes``, ``max_image_bytes``,
  ``max_layer_members``, ``max_image_members``) fail the scan with a :class:`LimitExceeded`
  whose ``code`` is one of :class:`LimitCode`: the scanner will not say anything about an image
  it did not read.
* **Per-file bounds** (``max_file_bytes``, ``max_archive_depth``, ``max_archive_members``,
  ``max_archive_bytes``, ``max_json_depth``) skip the one file or nested archive and report it in
  the scan's errors with a :class:`~moorage.scanner.interface.SkipCode`; the rest of the image is
  still read. (``max_json_depth`` also bounds the image's own JSON: an OCI layout's
  ``index.json``, a manifest or config nested deeper fails the scan.)

Memory stays bounded whatever the compression ratio: layers are inflated in chunks of at most
``tarstream.CHUNK`` bytes, and a file is held in memory only up to ``max_file_bytes`` (a Java
archive and the nested archives read out of it together up to ``max_file_bytes +
max_archive_bytes``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import StrEnum

GIB = 1 << 30
MIB = 1 << 20
DEFAULT_JSON_DEPTH = 128
"""Default of ``max_json_depth``: package databases nest deeper than manifests (an npm v1 lock file
two levels per ``node_modules`` level), and 128 levels stay far below Python's recursion limit."""
PATH_BYTES_PER_MEMBER = 256
"""The names of a layer's members may average this many bytes (a layer of ``max_layer_members``
4,096-byte names would otherwise hold gigabytes of names)."""


class LimitCode(StrEnum):
    """Why a scan was refused: the documented failure codes of a limit (JSON ``failure.code``)."""

    LAYER_TOO_LARGE = "layer_too_large"
    """A layer's uncompressed tar stream is larger than ``max_layer_bytes``."""
    IMAGE_TOO_LARGE = "image_too_large"
    """The image's layers together are larger than ``max_image_bytes`` uncompressed."""
    LAYER_TOO_MANY_MEMBERS = "layer_too_many_members"
    """A layer lists more than ``max_layer_members`` members (or their names are too long)."""
    IMAGE_TOO_MANY_MEMBERS = "image_too_many_members"
    """The image's layers list more than ``max_image_members`` members together."""


@dataclass(frozen=True, slots=True)
class ScanLimits:
    """Every bound the scanner applies (the registry's ``scanner`` settings and the CLI options)."""

    max_layer_bytes: int = 16 * GIB
    """Most uncompressed bytes of one layer's tar stream; above: ``layer_too_large``."""
    max_image_bytes: int = 32 * GIB
    """Most uncompressed bytes of all layers of one image together; above: ``image_too_large``."""
    max_layer_members: int = 1_000_000
    """Most members (files, directories, links) of one layer; above: ``layer_too_many_members``."""
    max_image_members: int = 2_000_000
    """Most members of all layers of one image together; above: ``image_too_many_members``."""
    max_file_bytes: int = 256 * MIB
    """Most bytes of one file read into memory (a plug-in asking for more gets the file skipped,
    or its first ``max_file_bytes`` when it accepts a prefix)."""
    max_archive_depth: int = 4
    """Archives nested deeper than this inside an archive (a jar in a war in an ear...) are skipped."""
    max_archive_members: int = 100_000
    """Archives (jar, war, zip) listing more members than this are skipped."""
    max_archive_bytes: int = 256 * MIB
    """Most bytes inflated out of one archive, its nested archives included; the rest is skipped."""
    max_json_depth: int = DEFAULT_JSON_DEPTH
    """Deepest nesting of a JSON document read out of an image (package databases such as
    ``package.json``, ``installed.json``, cargo-auditable data; an OCI layout's index, manifests and
    configs): a deeper package database is skipped, a deeper image document fails the scan."""

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{item.name} must be a positive integer, not {value!r}")

    @property
    def max_layer_path_bytes(self) -> int:
        """Most bytes of member names one layer may hold (``PATH_BYTES_PER_MEMBER`` on average)."""
        return self.max_layer_members * PATH_BYTES_PER_MEMBER

    def file_results_tag(self) -> str:
        """What, of these limits, can change a plug-in's per-file results ("" for the defaults).

        Added to plug-in cache keys, so results cached under other per-file bounds are not reused.
        The whole-image bounds are left out: a layer past them is never cached.
        """
        default = ScanLimits()
        names = ("max_file_bytes", "max_archive_depth", "max_archive_members", "max_archive_bytes", "max_json_depth")
        changed = [f"{name}={getattr(self, name)}" for name in names if getattr(self, name) != getattr(default, name)]
        return ",".join(changed)
