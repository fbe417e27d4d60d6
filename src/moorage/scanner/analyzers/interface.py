"""The analyzer interface: a layer plug-in that, after flattening, turns its per-path results
into packages (or, for OS detection, a distro).

An analyzer's ``extract`` (see :class:`moorage.scanner.interface.LayerPlugin`) parses one file into
JSON during the layer pass; ``collect`` then reads the flattened results from a
:class:`~moorage.scanner.flatten.FlatView`. The OS analyzer runs first, so ``collect`` gets the
distro in its context (for purls); OS package managers run next and report the files their
packages own, so a language package whose record lies in such a file is dropped.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from moorage.scanner.flatten import FlatFile, FlatView
from moorage.scanner.interface import LayerPlugin
from moorage.scanner.inventory import Distro, Package


@dataclass(frozen=True, slots=True)
class AnalysisContext:
    """What earlier analyzers found, given to the later ones."""

    distro: Distro | None = None
    """The image's operating system, if detected."""


@dataclass(frozen=True, slots=True)
class AnalyzerOutput:
    """What one analyzer found in the flattened image."""

    packages: tuple[Package, ...] = ()
    """Packages, each with the layer and path its record came from."""
    distro: Distro | None = None
    """Set only by the OS analyzer."""
    owned_paths: frozenset[str] = frozenset()
    """Files that OS packages own (dpkg lists, rpm file lists, apk file lists)."""


class Analyzer(LayerPlugin):
    """A package (or OS) analyzer; one implementation per file in this package."""

    stage: ClassVar[int] = 2
    """0: OS detection; 1: OS package managers; 2: language ecosystems."""

    @abstractmethod
    def collect(self, view: FlatView, context: AnalysisContext) -> AnalyzerOutput:
        """Packages from this analyzer's results in the flattened image."""


def origin(flat: FlatFile) -> str:
    """The layer digest a flattened file came from."""
    return flat.entry.layer_digest
