"""Finding ids: short, stable names for findings, so that handling (``ignored``, a ticket) can be
attached to a finding and still apply after the image is scanned again.

An id is a hash of what makes the finding *the same issue* to a person, never of what a rescan or
a rebuild changes (layer digests, versions, scan times):

* vulnerability: the vulnerability's main id, the package without its version (purl type,
  namespace, name and qualifiers such as ``arch``) and the file it was read from; an upgrade
  that is still vulnerable keeps the id, a rebuild on new layers too;
* secret: rule, path, line, and whether the file is in the final filesystem;
* malicious file: rule, path, and whether the file is in the final filesystem;
* baseline and image-configuration risk: rule, path and the (masked) evidence, which names the
  account, file or variable;
* build command: rule and the position in the image history.

Two findings of one report that would get the same id (the same secret in two deleted copies of
a file) are told apart by a ``-2``, ``-3`` suffix in report order. A re-match also keeps the id
of a vulnerability whose main id changed because a new alias arrived (see
``moorage.scanner.scan.rematch``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from moorage.scanner.checks.findings import Finding, MalwareFinding, SecretFinding, SettingFinding
from moorage.scanner.matching.findings import VulnerabilityFinding

_PURL_VERSION = re.compile(r"@[^?#]*")
_ID_HEX = 16


def _digest(kind: str, *parts: object) -> str:
    text = "\x1f".join(str(part) for part in (kind, *parts))
    return f"{kind}-{hashlib.sha256(text.encode()).hexdigest()[:_ID_HEX]}"


def package_identity(purl: str) -> str:
    """A purl without its version (``pkg:deb/debian/libc6?arch=amd64``); scoped npm names keep
    their ``%40``, so the first ``@`` is the version's."""
    return _PURL_VERSION.sub("", purl, count=1)


def vulnerability_finding_id(finding: VulnerabilityFinding) -> str:
    """``vuln-<16 hex>`` (see the module docstring)."""
    package = package_identity(finding.purl) or f"{finding.ecosystem.value}/{finding.package_name}"
    return _digest("vuln", finding.vulnerability_id, package, finding.path)


def check_finding_id(finding: Finding) -> str:
    """``secret-``, ``malware-``, ``baseline-``, ``image_config-`` or ``build_command-<16 hex>``."""
    kind = finding.category.value
    if isinstance(finding, SecretFinding):
        return _digest(kind, finding.rule_id, finding.path, finding.line, finding.in_final_filesystem)
    if isinstance(finding, MalwareFinding):
        return _digest(kind, finding.rule_id, finding.path, finding.in_final_filesystem)
    assert isinstance(finding, SettingFinding)
    if finding.history_index is not None:
        return _digest(kind, finding.rule_id, finding.history_index)
    return _digest(kind, finding.rule_id, finding.path, finding.evidence)


def unique_ids(ids: Iterable[str]) -> list[str]:
    """``ids`` with repeats renamed ``<id>-2``, ``<id>-3``... in order."""
    seen: dict[str, int] = {}
    out: list[str] = []
    for finding_id in ids:
        count = seen.get(finding_id, 0) + 1
        seen[finding_id] = count
        out.append(finding_id if count == 1 else f"{finding_id}-{count}")
    return out
