"""Build the checks a scan runs from scanner names and operator options.

Scanner names are those of ``moorage scan --scanners``: ``secret`` (sensitive information),
``malware`` (YARA and the SHA-256 blocklist) and ``config`` (baseline settings of the final
filesystem, the image configuration and the build history). ``vuln`` belongs to the matcher
and is ignored here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from moorage.scanner.checks.baseline import BaselineCheck
from moorage.scanner.checks.errors import CheckError
from moorage.scanner.checks.history import HistoryCheck
from moorage.scanner.checks.image_config import ImageConfigCheck
from moorage.scanner.checks.interface import CheckSet, ConfigCheck, FileCheck, FilesystemCheck
from moorage.scanner.checks.malware import MalwareCheck
from moorage.scanner.checks.secret_rules import SECRET_RULES
from moorage.scanner.checks.secrets import SecretCheck

CHECK_SCANNERS = ("secret", "malware", "config")
"""Scanner names this package serves."""
OTHER_SCANNERS = ("vuln",)
"""Scanner names served elsewhere (accepted and ignored here)."""


@dataclass(frozen=True, slots=True)
class CheckOptions:
    """Operator inputs that extend the shipped rule sets."""

    yara_rule_files: tuple[Path, ...] = ()
    """Extra YARA rule files (``*.yar``)."""
    blocklist_files: tuple[Path, ...] = ()
    """Extra SHA-256 blocklists (``<hex> [description]`` per line)."""
    replace_shipped_malware_rules: bool = False
    """Use only the given YARA rules and blocklists, not the shipped ones."""
    weak_password_files: tuple[Path, ...] = ()
    """Extra weak-password dictionaries (one word per line)."""
    suid_allowlist: tuple[str, ...] = ()
    """Extra set-id program paths (globs) that are fine in this organisation's images."""
    secret_skipped_paths: tuple[str, ...] = ()
    """Extra path prefixes the secret scan skips (an operator's allowlist of paths)."""
    disabled_secret_rules: tuple[str, ...] = ()
    """Secret rule ids switched off (``secret.jwt``...), for rules too noisy for a site."""


def build_check_set(scanners: Iterable[str], options: CheckOptions | None = None) -> CheckSet:
    """The checks for ``scanners``; raise ``CheckError`` on an unknown name or a bad rule file."""
    options = options or CheckOptions()
    wanted = set(scanners)
    unknown = wanted - set(CHECK_SCANNERS) - set(OTHER_SCANNERS)
    if unknown:
        known = ", ".join(CHECK_SCANNERS + OTHER_SCANNERS)
        raise CheckError(f"unknown scanner(s): {', '.join(sorted(unknown))} (known: {known})")
    known_rules = {rule.rule_id for rule in SECRET_RULES}
    unknown_rules = set(options.disabled_secret_rules) - known_rules
    if unknown_rules:
        raise CheckError(f"unknown secret rule(s): {', '.join(sorted(unknown_rules))}")
    secret_check = SecretCheck(
        rules=[rule for rule in SECRET_RULES if rule.rule_id not in options.disabled_secret_rules],
        skipped_paths=options.secret_skipped_paths,
    )
    file_checks: list[FileCheck] = []
    filesystem_checks: list[FilesystemCheck] = []
    config_checks: list[ConfigCheck] = []
    if "secret" in wanted:
        file_checks.append(secret_check)
    if "malware" in wanted:
        file_checks.append(
            MalwareCheck(
                options.yara_rule_files,
                options.blocklist_files,
                include_shipped=not options.replace_shipped_malware_rules,
            )
        )
    if "config" in wanted:
        filesystem_checks.append(
            BaselineCheck(
                extra_suid_allowlist=options.suid_allowlist,
                weak_password_files=options.weak_password_files,
            )
        )
        config_checks.append(ImageConfigCheck(secret_check))
        config_checks.append(HistoryCheck(secret_check))
    return CheckSet(
        file_checks=tuple(file_checks),
        filesystem_checks=tuple(filesystem_checks),
        config_checks=tuple(config_checks),
    )
