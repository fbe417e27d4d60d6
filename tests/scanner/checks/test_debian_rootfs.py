"""A clean minimal Debian root filesystem: no secret, malware or baseline finding (false positives).

Uses the cached ``debootstrap --variant=minbase bookworm`` tar (built once; see
``debian_rootfs``). It holds Debian's own documentation under /usr/share/doc, its default
configuration files under /etc and a few hundred scripts and binaries.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from moorage.scanner.checks import Category, CheckSet, MalwareFinding, SecretCheck, SecretFinding
from moorage.scanner.files import FileKind

from .driver import iter_tar, scan_layers

pytestmark = [pytest.mark.slow]


def test_clean_debian_has_no_findings(check_set: CheckSet, debian_minbase_tar: Path) -> None:
    config = {"config": {"User": "1000:1000", "Env": ["PATH=/usr/local/bin:/usr/bin:/bin"]}, "history": []}
    scan = scan_layers(check_set, [("sha256:debian", debian_minbase_tar)], config)
    assert scan.stats.files_seen > 5000 and scan.stats.files_read["secret"] > 1000
    assert scan.stats.files_read["malware"] > 4000
    assert "/etc/shadow" in scan.final_layer_by_path and "/usr/bin/su" in scan.final_layer_by_path
    assert [f for f in scan.findings if isinstance(f, SecretFinding | MalwareFinding)] == []
    assert [f for f in scan.findings if f.category is Category.BASELINE] == []
    assert scan.findings == []


def test_debian_files_stay_clean_with_every_rule_on_every_file(debian_minbase_tar: Path) -> None:
    """No path-based leniency: every file, moved out of doc and data paths, all rules active."""
    check = SecretCheck()
    scanned = 0
    findings: list[object] = []
    for entry, archive, member in iter_tar(debian_minbase_tar, "sha256:debian"):
        if entry.kind is not FileKind.REGULAR or entry.size == 0:
            continue
        reader = archive.extractfile(member)
        assert reader is not None
        moved = dataclasses.replace(entry, path="/srv/copy" + entry.path.replace("/doc/", "/d0c/"))
        findings.extend(check.check(moved, reader.read(check.max_bytes)))
        scanned += 1
    assert scanned > 5000
    assert findings == []
