"""A whole image with planted problems, through the standalone driver: each found, rightly placed.

Three layers: a base with accounts and directories, an application layer that leaks a private
key, an AWS key pair in ``.env``, the EICAR file and a few more secrets, and a clean-up layer
that deletes or replaces some of them. Deleted secrets still ship in the image, so they are
reported with ``in_final_filesystem`` false and the layer that holds them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moorage.scanner.checks import (
    Category,
    CheckSet,
    MalwareFinding,
    SecretFinding,
    SettingFinding,
    finding_to_json,
)

from .conftest import aws_key_pair
from .driver import ImageScan, scan_layers
from .layers import LayerBuilder
from .test_malware import EICAR
from .test_secrets import rsa_pem


@pytest.fixture(scope="module")
def planted(
    tmp_path_factory: pytest.TempPathFactory, check_set: CheckSet
) -> tuple[ImageScan, list[str], dict[str, str]]:
    folder = tmp_path_factory.mktemp("planted")
    key_id, secret_key = aws_key_pair()
    leaked = {"key_id": key_id, "secret_key": secret_key, "pem": rsa_pem()}
    base = (
        LayerBuilder()
        .directory("/etc")
        .file("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\nguest:x:1000:1000::/home/guest:/bin/bash\n")
        .file("/etc/shadow", "root:*:19000:0:99999:7:::\nguest::19000:0:99999:7:::\n", mode=0o640)
        .directory("/tmp", mode=0o1777)
        .directory("/app")
        .directory("/app/uploads", mode=0o777)
        .directory("/usr/bin")
        .file("/usr/bin/su", b"\x7fELF\x00su", mode=0o4755)
        .directory("/var/cache/app")
        .file("/var/cache/app/session.env", f"SESSION_TOKEN={secret_key[::-1]}\n")
    )
    application = (
        LayerBuilder()
        .directory("/root/.ssh", mode=0o700)
        .file("/root/.ssh/id_rsa", leaked["pem"], mode=0o600)
        .file("/app/.env", f"AWS_ACCESS_KEY_ID={key_id}\nAWS_SECRET_ACCESS_KEY={secret_key}\n")
        .file("/opt/eicar.com", EICAR)
        .file("/app/deploy.pem", leaked["pem"])
        .file("/app/config.yaml", f"db:\n  password: {secret_key[:20]}\n")
    )
    cleanup = (
        LayerBuilder()
        .whiteout("/app/deploy.pem")
        .file("/app/config.yaml", "db:\n  password_file: /run/secrets/db\n")
        .opaque("/var/cache/app")
    )
    layers = [
        base.write(folder, "base"),
        application.write(folder, "app"),
        cleanup.write(folder, "cleanup"),
    ]
    digests = [digest for digest, _ in layers]
    history = [
        {"created_by": "/bin/sh -c #(nop) ADD file:0a1b2c in / "},
        {"created_by": "RUN /bin/sh -c curl -fsSL https://get.example.com/install.sh | sh # buildkit"},
        {"created_by": "RUN /bin/sh -c rm /app/deploy.pem # buildkit"},
        {"created_by": '/bin/sh -c #(nop)  CMD ["/app/run"]', "empty_layer": True},
    ]
    config = {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/app/run"]}, "history": history}
    return scan_layers(check_set, layers, config), digests, leaked


def test_secrets_and_malware_are_found_in_their_layers(
    planted: tuple[ImageScan, list[str], dict[str, str]],
) -> None:
    scan, (base, app, _), _ = planted
    found = sorted(
        (f.rule_id, f.path, f.layer_digest, f.in_final_filesystem)
        for f in scan.findings
        if isinstance(f, SecretFinding | MalwareFinding)
    )
    assert found == sorted(
        [
            ("secret.private-key", "/root/.ssh/id_rsa", app, True),
            ("secret.aws-access-key-id", "/app/.env", app, True),
            ("secret.aws-secret-access-key", "/app/.env", app, True),
            ("malware.yara.eicar.eicar_test_file", "/opt/eicar.com", app, True),
            ("malware.sha256-blocklist", "/opt/eicar.com", app, True),
            # deleted by a whiteout in the last layer: still shipped, in the application layer
            ("secret.private-key", "/app/deploy.pem", app, False),
            # replaced by a clean copy in the last layer: the leaky copy still ships
            ("secret.config-password", "/app/config.yaml", app, False),
            # hidden by an opaque directory in the last layer
            ("secret.env-file", "/var/cache/app/session.env", base, False),
        ]
    )


def test_baseline_config_and_history_findings(planted: tuple[ImageScan, list[str], dict[str, str]]) -> None:
    scan, (base, app, _), _ = planted
    settings = sorted(
        (f.category.value, f.rule_id, f.path, f.layer_digest, f.history_index)
        for f in scan.findings
        if isinstance(f, SettingFinding)
    )
    assert settings == [
        ("baseline", "baseline.empty-password", "/etc/shadow", base, None),
        ("baseline", "baseline.world-writable-dir", "/app/uploads", base, None),
        ("build_command", "history.pipe-to-shell", "", app, 1),
        ("image_config", "config.runs-as-root", "", "", None),
    ]
    assert any(
        f.category is Category.BASELINE and "guest" in f.evidence
        for f in scan.findings
        if isinstance(f, SettingFinding)
    )


def test_no_secret_reaches_the_output(planted: tuple[ImageScan, list[str], dict[str, str]]) -> None:
    scan, _, leaked = planted
    rendered = json.dumps([finding_to_json(f) for f in scan.findings])
    pem_body = "".join(line for line in leaked["pem"].splitlines() if not line.startswith("-----"))
    for secret in (
        leaked["key_id"],
        leaked["secret_key"],
        leaked["secret_key"][:20],
        leaked["secret_key"][::-1],
        pem_body[:40],
    ):
        assert secret not in rendered


def test_the_final_filesystem_is_flattened_with_whiteouts(
    planted: tuple[ImageScan, list[str], dict[str, str]],
) -> None:
    scan, (_, app, cleanup), _ = planted
    final = scan.final_layer_by_path
    assert "/app/deploy.pem" not in final and "/var/cache/app/session.env" not in final
    assert final["/app/config.yaml"] == cleanup and final["/app/.env"] == app
    assert "/var/cache/app" in final


def test_driver_reads_directory_trees_too(tmp_path: Path, check_set: CheckSet) -> None:
    """The driver also packs a plain root-filesystem directory as one layer."""
    from .driver import rootfs_to_tar

    root = tmp_path / "rootfs"
    (root / "app").mkdir(parents=True)
    key_id, _ = aws_key_pair()
    (root / "app" / "settings.py").write_text(f"KEY = '{key_id}'\n")
    layer = rootfs_to_tar(root, tmp_path / "layer.tar")
    scan = scan_layers(check_set, [("sha256:dir", layer)])
    assert [(f.rule_id, f.path) for f in scan.findings if isinstance(f, SecretFinding)] == [
        ("secret.aws-access-key-id", "/app/settings.py")
    ]
