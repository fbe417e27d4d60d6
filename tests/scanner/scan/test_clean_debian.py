"""A clean minimal Debian root filesystem (debootstrap minbase bookworm, cached) through the whole
scan: no secret, no malicious file, no baseline risk."""

from __future__ import annotations

from pathlib import Path

import pytest

from moorage.scanner.checks.findings import Category
from moorage.scanner.scan import scan
from moorage.scanner.sources import OciLayoutSource
from tests.scanner.rootfs_cache import debootstrap_tar, layout_from_tar

from .conftest import scan_options

pytestmark = [pytest.mark.slow]


def test_clean_debian_has_no_secret_malware_or_baseline_finding(tmp_path: Path) -> None:
    layout_from_tar(debootstrap_tar(), tmp_path / "layout")
    with OciLayoutSource(tmp_path / "layout") as source:
        report = scan(source, scan_options(scanners=("secret", "malware", "config")))
    assert len(report.inventory.packages) > 50
    assert report.issues == ()
    categories = {f.finding.category for f in report.findings}
    assert categories <= {Category.IMAGE_CONFIG}, [f.finding for f in report.findings]
    # The one image-level finding: the bare config sets no user.
    assert [f.finding.rule_id for f in report.findings] == ["config.runs-as-root"]
