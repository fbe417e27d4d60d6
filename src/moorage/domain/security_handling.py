"""What an account decided about findings: vulnerability whitelists (where they apply, and as the
lists show them), handling requests, the handling history and its filters, and the handled state
read once for a request.

Whitelists keep part one's vocabulary (``rule_type`` ``all_image`` with an empty or comma-separated
``image_type``, or ``specific_image`` with row ids); the API maps it to the SDK's ``all_images`` /
``specific_image_types`` / ``specific_images``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from moorage.domain.security import ImageRow
from moorage.domain.security_findings import AdvisoryFacts

ALL_IMAGES = "all_image"


SPECIFIC_IMAGES = "specific_image"


@dataclass(frozen=True, slots=True)
class Whitelist:
    """A vulnerability id set aside in every image, in images of some types, or in chosen images."""

    id: str
    domain_id: str
    vul_type: str
    vul_id: str
    rule_type: str
    """``all_image`` (``image_types`` empty: every image) or ``specific_image``."""
    image_types: tuple[str, ...]
    row_ids: tuple[int, ...]
    description: str
    created_at: int
    updated_at: int

    def covers(self, image_type: str, row_ids: Iterable[int]) -> bool:
        """Whether it applies to an image of ``image_type`` known by any of ``row_ids`` (a platform
        image is also known by its multi-architecture image's id)."""
        if self.rule_type == ALL_IMAGES:
            return not self.image_types or image_type in self.image_types
        return bool(set(self.row_ids) & set(row_ids))


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One handling operation on one vulnerability of one image."""

    id: int
    manifest_digest: str
    image_row_id: int | None
    vul_id: str
    handle_type: str
    status: str
    remark: str
    user_name: str
    app_name: str
    app_version: str
    app_path: str
    created_at: int


class HandlingState:
    """An account's ignored (digest, vulnerability) pairs and whitelists, read once for a request."""

    def __init__(self, ignored: set[tuple[str, str]], lists: Sequence[Whitelist]) -> None:
        self.ignored = ignored
        self.whitelists = tuple(lists)

    def whitelisted(self, vul_ids: Iterable[str], image_type: str, row_ids: Iterable[int]) -> bool:
        """Whether a whitelist covers any of ``vul_ids`` (a vulnerability's id and aliases) here."""
        ids = set(vul_ids)
        rows = tuple(row_ids)
        return any(w.vul_id in ids and w.covers(image_type, rows) for w in self.whitelists)

    def handled(
        self, digest: str, vul_id: str, aliases: Iterable[str], image_type: str, row_ids: Iterable[int]
    ) -> bool:
        """Whether a vulnerability of an image is set aside (ignored for the content, or whitelisted)."""
        ids = (vul_id, *aliases)
        if any((digest, i) in self.ignored for i in ids):
            return True
        return self.whitelisted(ids, image_type, row_ids)

    def ignored_ids(self, digest: str, image_type: str, row_ids: Iterable[int]) -> frozenset[str]:
        """Every id set aside for one image (what the counts of its row leave out)."""
        rows = tuple(row_ids)
        found = {vul_id for d, vul_id in self.ignored if d == digest}
        found.update(w.vul_id for w in self.whitelists if w.covers(image_type, rows))
        return frozenset(found)


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    """Filters of the handling history (None: not filtered; text fields match a part)."""

    vul_id: str | None = None
    image_row_ids: tuple[int, ...] | None = None
    status: str | None = None
    user_name: str | None = None
    handle_type: str | None = None
    app_name: str | None = None
    app_version: str | None = None
    remark: str | None = None


@dataclass(frozen=True, slots=True)
class HandleRequest:
    """What to handle (the SDK's ``HandleImageVulnerabilityRequestBody``)."""

    operate_type: str
    select_type: str
    handle_status: str | None = None
    kind: str | None = None
    image_ids: tuple[str, ...] = ()
    vul_ids: tuple[str, ...] = ()
    vul_view: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(vulnerability id, image ids) pairs."""
    image_view: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(image id, vulnerability ids) pairs."""
    remark: str = ""
    image_name: str | None = None
    vul_name: str | None = None


@dataclass(frozen=True, slots=True)
class WhitelistScope:
    """Where a whitelist applies, in the SDK's words."""

    rule_type: str
    image_types: tuple[str, ...] = ()
    row_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class WhitelistView:
    """A whitelist with its advisory facts and the images it names."""

    whitelist: Whitelist
    rule_type: str
    facts: AdvisoryFacts
    images: tuple[ImageRow, ...]
