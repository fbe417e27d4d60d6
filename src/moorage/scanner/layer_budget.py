"""What one layer may hold while it is read: the scan's per-layer bounds, tightened by what the
image's other layers left (:class:`LayerBudget`), and the running count of members and of the
bytes of their names (:class:`MemberCount`). Past either, a :class:`LimitExceeded` that names the
bound (docs/scan-report-format.md, "Limits")."""

from __future__ import annotations

from dataclasses import dataclass, field

from moorage.scanner.errors import LimitExceeded
from moorage.scanner.limits import LimitCode, ScanLimits


@dataclass(frozen=True, slots=True)
class LayerBudget:
    """What one layer may hold: the per-layer bounds, tightened by what the image has left."""

    limits: ScanLimits = field(default_factory=ScanLimits)
    """The scan's bounds."""
    image_bytes_left: int | None = None
    """Uncompressed bytes the image's other layers leave for this one (None: no image bound)."""
    image_members_left: int | None = None
    """Members the image's other layers leave for this one (None: no image bound)."""

    @property
    def max_bytes(self) -> int:
        """Most uncompressed bytes this layer may have."""
        left = self.image_bytes_left
        return self.limits.max_layer_bytes if left is None else max(0, min(self.limits.max_layer_bytes, left))

    @property
    def max_members(self) -> int:
        """Most members this layer may list."""
        left = self.image_members_left
        return self.limits.max_layer_members if left is None else max(0, min(self.limits.max_layer_members, left))

    def too_large(self, digest: str, needed: int) -> LimitExceeded:
        """The error for a layer that needs ``needed`` uncompressed bytes, more than it may have."""
        limits = self.limits
        if self.image_bytes_left is not None and self.image_bytes_left < limits.max_layer_bytes:
            return LimitExceeded(
                LimitCode.IMAGE_TOO_LARGE,
                f"the image is larger than {limits.max_image_bytes} bytes uncompressed (the image limit): "
                f"layer {digest} needs at least {needed} of the {self.max_bytes} bytes the other layers left",
                setting="max_image_bytes",
                limit=limits.max_image_bytes,
                layer_digest=digest,
            )
        return LimitExceeded(
            LimitCode.LAYER_TOO_LARGE,
            f"layer {digest} is larger than {limits.max_layer_bytes} bytes uncompressed (the layer limit; "
            f"at least {needed} bytes): a decompression bomb or an image too large to scan",
            setting="max_layer_bytes",
            limit=limits.max_layer_bytes,
            layer_digest=digest,
        )

    def too_many_members(self, digest: str, *, names: bool = False) -> LimitExceeded:
        """The error for a layer that lists more members (or longer names) than it may."""
        limits = self.limits
        if names:
            return LimitExceeded(
                LimitCode.LAYER_TOO_MANY_MEMBERS,
                f"layer {digest}: its member names pass {limits.max_layer_path_bytes} bytes "
                f"(the layer member limit, {limits.max_layer_members}, times 256)",
                setting="max_layer_members",
                limit=limits.max_layer_members,
                layer_digest=digest,
            )
        if self.image_members_left is not None and self.image_members_left < limits.max_layer_members:
            return LimitExceeded(
                LimitCode.IMAGE_TOO_MANY_MEMBERS,
                f"the image lists more than {limits.max_image_members} files (the image member limit), "
                f"reached in layer {digest}",
                setting="max_image_members",
                limit=limits.max_image_members,
                layer_digest=digest,
            )
        return LimitExceeded(
            LimitCode.LAYER_TOO_MANY_MEMBERS,
            f"layer {digest} lists more than {limits.max_layer_members} files (the layer member limit)",
            setting="max_layer_members",
            limit=limits.max_layer_members,
            layer_digest=digest,
        )


class MemberCount:
    """Members and the bytes of their names so far, against the layer's bounds."""

    def __init__(self, budget: LayerBudget, digest: str) -> None:
        self.budget = budget
        self.digest = digest
        self.members = 0
        self.name_bytes = 0
        self.max_members = budget.max_members
        self.max_name_bytes = budget.limits.max_layer_path_bytes

    def add(self, name: str, link: str = "") -> None:
        """Count one member; LimitExceeded past the layer's member or name-bytes bound."""
        self.members += 1
        self.name_bytes += len(name) + len(link)
        if self.members > self.max_members:
            raise self.budget.too_many_members(self.digest)
        if self.name_bytes > self.max_name_bytes:
            raise self.budget.too_many_members(self.digest, names=True)
