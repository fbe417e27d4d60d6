"""JSON nested too deep inside an image: every document the scanner parses goes through the domain's
bounded loader, so nesting is refused cleanly (the scanner's ``json.loads`` let it reach the
interpreter's recursion limit: a ``RecursionError`` out of the source or the check) and the bound is
the ``max_json_depth`` scan limit."""

from __future__ import annotations

import base64
import io
import json
import tarfile
from pathlib import Path

import pytest

from moorage.domain.oci_platform import Platform
from moorage.scanner.analysis import AnalysisOptions, analyze
from moorage.scanner.analyzers.npm import NpmAnalyzer
from moorage.scanner.checks.secrets import SecretCheck
from moorage.scanner.errors import ImageSourceError
from moorage.scanner.files import FileEntry, FileKind
from moorage.scanner.limits import DEFAULT_JSON_DEPTH, ScanLimits
from moorage.scanner.sources import DockerArchiveSource, OciLayoutSource
from tests.scanner.imagebuild import ImageSpec, Layer, LayerBuilder, write_oci_layout

DEEP = 100_000


def test_a_jwt_whose_header_nests_past_the_recursion_limit_is_no_jwt() -> None:
    """The JWT rule decodes a candidate's header: ``{"a":[[[[...`` (2,047 base64 characters, the
    longest header the rule matches) made the whole secret check of the file raise RecursionError."""
    header = base64.urlsafe_b64encode(b'{"a":' + b"[" * 1530).rstrip(b"=").decode()
    assert len(header) <= 2048 and header.startswith("eyJ")
    key = "AKIA" + "QWERTYUIOPASDFGH"
    content = (
        f"Authorization: Bearer {header}.eyJzdWIiOiJ4In0.{'a' * 43}\n"
        f"aws_access_key_id = {key}\naws_secret_access_key = {'Zx9' * 13}x\n"
    ).encode()
    entry = FileEntry(
        path="/app/credentials", kind=FileKind.REGULAR, size=len(content), mode=0o644, layer_digest="sha256:layer"
    )
    found = SecretCheck().check(entry, content)
    rules = {getattr(f, "rule_id", "") for f in found}
    assert "secret.jwt" not in rules
    assert any(rule.startswith("secret.aws") for rule in rules), rules


def test_a_deep_index_json_is_refused(tmp_path: Path) -> None:
    write_oci_layout(tmp_path, ImageSpec([Layer.of(LayerBuilder().file("/a", "a"))]))
    (tmp_path / "index.json").write_text('{"schemaVersion": 2, "manifests": ' + "[" * DEEP + "]" * DEEP + "}")
    with OciLayoutSource(tmp_path) as source, pytest.raises(ImageSourceError, match="nested deeper than"):
        source.resolve(None)


def test_a_deep_docker_manifest_json_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "docker.tar"
    deep = b"[" * DEEP + b"]" * DEEP
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo("manifest.json")
        info.size = len(deep)
        tar.addfile(info, io.BytesIO(deep))
    with DockerArchiveSource(archive) as source, pytest.raises(ImageSourceError, match="nested deeper than"):
        source.resolve(None)


def _package_json(depth: int) -> str:
    return json.dumps({"name": "left-pad", "version": "1.3.0", "nested": json.loads("[" * depth + "]" * depth)})


@pytest.mark.parametrize(
    ("limits", "depth", "kept"),
    [
        (ScanLimits(), 10, True),
        (ScanLimits(), DEFAULT_JSON_DEPTH, False),  # the object around the list is one more level
        (ScanLimits(max_json_depth=4), 3, True),
        (ScanLimits(max_json_depth=4), 4, False),
    ],
)
def test_a_package_database_deeper_than_the_limit_is_skipped(
    tmp_path: Path, limits: ScanLimits, depth: int, kept: bool
) -> None:
    layer = LayerBuilder().file("/app/node_modules/left-pad/package.json", _package_json(depth))
    root = tmp_path / "layout"
    write_oci_layout(root, ImageSpec([Layer.of(layer)]))
    options = AnalysisOptions(analyzers=(NpmAnalyzer(),), executor="serial", limits=limits)
    with OciLayoutSource(root) as source:
        (result,) = analyze(source, platform=Platform("linux", "amd64"), options=options)
    names = [p.name for p in result.inventory.packages]
    assert names == (["left-pad"] if kept else [])
    if not kept:
        (error,) = result.inventory.errors
        assert error.code == "malformed" and f"nested deeper than {limits.max_json_depth}" in error.message


def test_the_json_depth_is_part_of_the_per_file_cache_key() -> None:
    assert ScanLimits().file_results_tag() == ""
    assert ScanLimits(max_json_depth=16).file_results_tag() == "max_json_depth=16"
