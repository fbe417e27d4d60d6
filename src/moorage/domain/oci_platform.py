"""Image platforms (``os/architecture[/variant]``): the ``platform`` of an index entry, an image
config's ``os`` and ``architecture``, and what a user asks for with ``--platform``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_GOARCH = {
    "x86_64": ("amd64", ""),
    "amd64": ("amd64", ""),
    "aarch64": ("arm64", ""),
    "arm64": ("arm64", ""),
    "armv7l": ("arm", "v7"),
    "armv6l": ("arm", "v6"),
    "i386": ("386", ""),
    "i686": ("386", ""),
    "ppc64le": ("ppc64le", ""),
    "s390x": ("s390x", ""),
    "riscv64": ("riscv64", ""),
}
"""``uname -m`` names and the GOARCH architecture (and variant) images use for them."""


@dataclass(frozen=True, slots=True)
class Platform:
    """An image platform. Two platforms are equal when os, architecture and variant are: the OS
    version and features refine a Windows image but do not make it another platform."""

    os: str
    """Operating system (``linux``, ``windows``)."""
    architecture: str
    """GOARCH-style architecture (``amd64``, ``arm64``, ``arm``, ``s390x``)."""
    variant: str = ""
    """Architecture variant (``v7``, ``v8``), empty when none."""
    os_version: str = field(default="", compare=False)
    """``os.version`` (Windows builds), empty when none."""
    os_features: tuple[str, ...] = field(default=(), compare=False)
    """``os.features``, empty when none."""

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)

    @classmethod
    def parse(cls, text: str) -> Platform:
        """``linux/amd64`` or ``linux/arm/v7``; ``ValueError`` otherwise."""
        parts = text.strip().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise ValueError(f"platform {text!r} is not os/arch[/variant]")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else "")

    @classmethod
    def for_machine(cls, machine: str) -> Platform:
        """The Linux platform of a machine whose ``uname -m`` is ``machine``, in GOARCH terms."""
        arch, variant = _GOARCH.get(machine.lower(), (machine.lower(), ""))
        return cls("linux", arch, variant)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Platform | None:
        """The platform an index entry's ``platform`` object (or an image config) describes; None
        unless ``os`` and ``architecture`` (and ``variant``, when present) are strings. Ill-typed
        optional members (``os.version``, ``os.features``) are left out."""
        os_name, arch, variant = obj.get("os"), obj.get("architecture"), obj.get("variant")
        variant = "" if variant is None else variant
        if not isinstance(os_name, str) or not isinstance(arch, str) or not isinstance(variant, str):
            return None
        os_version = obj.get("os.version")
        features = obj.get("os.features")
        return cls(
            os_name,
            arch,
            variant,
            os_version if isinstance(os_version, str) else "",
            tuple(features) if isinstance(features, list) and all(isinstance(f, str) for f in features) else (),
        )

    def to_json(self) -> dict[str, Any]:
        """The OCI JSON form (members that are empty left out)."""
        out: dict[str, Any] = {"architecture": self.architecture, "os": self.os}
        if self.os_version:
            out["os.version"] = self.os_version
        if self.os_features:
            out["os.features"] = list(self.os_features)
        if self.variant:
            out["variant"] = self.variant
        return out

    def matches(self, other: Platform) -> bool:
        """Same os and architecture; variants must agree only when both name one."""
        if (self.os, self.architecture) != (other.os, other.architecture):
            return False
        return not self.variant or not other.variant or self.variant == other.variant
