"""Secret, malware, baseline, image-configuration and build-history checks of the scanner.

The public surface: the finding types and their JSON form (``findings``), the plug-in contract
with the layer reader (``interface``), the checks themselves and the factory that builds them
from ``--scanners`` names (``factory``).
"""

from moorage.scanner.checks.baseline import BaselineCheck
from moorage.scanner.checks.errors import BlocklistError, CheckError, RuleSetError
from moorage.scanner.checks.factory import CHECK_SCANNERS, CheckOptions, build_check_set
from moorage.scanner.checks.findings import (
    Category,
    Finding,
    MalwareEngine,
    MalwareFinding,
    SecretFinding,
    SettingFinding,
    Severity,
    finding_from_json,
    finding_to_json,
    mark_final_visibility,
    sort_findings,
)
from moorage.scanner.checks.history import HistoryCheck
from moorage.scanner.checks.image_config import ImageConfigCheck
from moorage.scanner.checks.interface import CheckSet, ConfigCheck, FileCheck, FilesystemCheck, FlatView
from moorage.scanner.checks.malware import MalwareCheck
from moorage.scanner.checks.secrets import SecretCheck

__all__ = [
    "CHECK_SCANNERS",
    "BaselineCheck",
    "BlocklistError",
    "Category",
    "CheckError",
    "CheckOptions",
    "CheckSet",
    "ConfigCheck",
    "FileCheck",
    "FilesystemCheck",
    "Finding",
    "FlatView",
    "HistoryCheck",
    "ImageConfigCheck",
    "MalwareCheck",
    "MalwareEngine",
    "MalwareFinding",
    "RuleSetError",
    "SecretCheck",
    "SecretFinding",
    "SettingFinding",
    "Severity",
    "build_check_set",
    "finding_from_json",
    "finding_to_json",
    "mark_final_visibility",
    "sort_findings",
]
