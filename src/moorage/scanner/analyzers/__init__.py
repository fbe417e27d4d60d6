"""Package analyzers, one per file, behind :class:`~moorage.scanner.analyzers.interface.Analyzer`;
:func:`default_analyzers` and :func:`make_analyzers` are the factory."""

from __future__ import annotations

from collections.abc import Iterable

from moorage.scanner.analyzers.apk import ApkAnalyzer
from moorage.scanner.analyzers.dpkg import DpkgAnalyzer
from moorage.scanner.analyzers.golang import GoBinaryAnalyzer
from moorage.scanner.analyzers.interface import AnalysisContext, Analyzer, AnalyzerOutput
from moorage.scanner.analyzers.java import JavaArchiveAnalyzer
from moorage.scanner.analyzers.npm import NpmAnalyzer
from moorage.scanner.analyzers.os_release import OsReleaseAnalyzer
from moorage.scanner.analyzers.php import ComposerAnalyzer
from moorage.scanner.analyzers.python import PythonAnalyzer
from moorage.scanner.analyzers.rpm import RpmAnalyzer
from moorage.scanner.analyzers.ruby import RubyAnalyzer
from moorage.scanner.analyzers.rust import CargoAuditableAnalyzer

ANALYZER_CLASSES: tuple[type[Analyzer], ...] = (
    OsReleaseAnalyzer,
    DpkgAnalyzer,
    ApkAnalyzer,
    RpmAnalyzer,
    PythonAnalyzer,
    NpmAnalyzer,
    GoBinaryAnalyzer,
    JavaArchiveAnalyzer,
    RubyAnalyzer,
    ComposerAnalyzer,
    CargoAuditableAnalyzer,
)

__all__ = [
    "ANALYZER_CLASSES",
    "AnalysisContext",
    "Analyzer",
    "AnalyzerOutput",
    "default_analyzers",
    "make_analyzers",
]


def default_analyzers() -> list[Analyzer]:
    """One instance of every analyzer."""
    return [cls() for cls in ANALYZER_CLASSES]


def make_analyzers(names: Iterable[str]) -> list[Analyzer]:
    """Analyzers by name (``dpkg``, ``npm``...); the OS analyzer is always included."""
    by_name = {cls.name: cls for cls in ANALYZER_CLASSES}
    wanted = ["os-release", *names]
    unknown = [n for n in wanted if n not in by_name]
    if unknown:
        raise ValueError(f"unknown analyzers {unknown}; known: {sorted(by_name)}")
    return [by_name[n]() for n in dict.fromkeys(wanted)]
