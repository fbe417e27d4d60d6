"""Images with planted problems for the detail-query tests: vulnerable Python packages (fixture
advisories of ``support.ADVISORIES``), an AWS key pair, the EICAR test file, accounts with an
empty password and an MD5 hash, a weak password policy, no USER, and risky build commands in the
history. Pushed with the OCI API (httpx) into a server that scans on push."""

from __future__ import annotations

import gzip
import json
import secrets
import string
from dataclasses import dataclass
from typing import Any

from huaweicloudsdkhss.v5 import HssClient, ListRegistryImagesRequest

from tests.hss.support import dist_info, wait_for
from tests.support import swr_images as si

# Assembled at run time so no file of this repository is itself an EICAR test file.
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
PASSWD = b"root:x:0:0:root:/root:/bin/bash\nguest:x:1000:1000::/home/guest:/bin/sh\n"
SHADOW = b"root:$1$saltsalt$4nK3SfMKvSiYVpBOOStyS1:19000:0:99999:7:::\nguest::19000:0:99999:7:::\n"
EXTENDED_PASSWORD = "Harbour-Quay-77"
"""root's password in ``risky_image`` (MD5, in no shipped dictionary)."""
HISTORY = [
    {"created_by": "/bin/sh -c #(nop) ADD file:base in / "},
    {"created_by": "RUN /bin/sh -c curl -s https://get.example/install.sh | sh"},
]


def aws_pair() -> tuple[str, str]:
    """A fresh AWS-shaped access key id and secret key."""
    alphabet = string.ascii_letters + string.digits + "+/"
    return (
        "AKIA" + "".join(secrets.choice(string.ascii_uppercase + "234567") for _ in range(16)),
        "".join(secrets.choice(alphabet) for _ in range(40)),
    )


def custom_image(
    layers: list[dict[str, bytes]], *, history: list[dict[str, Any]] | None = None, label: str = ""
) -> si.Image:
    """An OCI image with ``layers`` and a configuration with ``history`` and no USER."""
    blobs = [si.layer(files) for files in layers]
    diff_ids = [si.sha256(gzip.decompress(blob.data)) for blob in blobs]
    config = si.Blob(
        si.OCI_CONFIG,
        json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "config": {"Labels": {"t": label}},
                "rootfs": {"type": "layers", "diff_ids": diff_ids},
                "history": history or [],
            },
            sort_keys=True,
        ).encode(),
    )
    manifest = {
        "schemaVersion": 2,
        "mediaType": si.OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": [b.descriptor() for b in blobs],
    }
    return si.Image(json.dumps(manifest, separators=(",", ":")).encode(), si.OCI_MANIFEST, (config, *blobs), config)


def risky_image(label: str = "risky") -> si.Image:
    """requests 2.30.0 (medium) and urllib3 1.26.0 (critical), secrets, EICAR, weak accounts."""
    key_id, secret_key = aws_pair()
    base = {
        "etc/os-release": b'ID=moorage-test\nVERSION_ID="1"\nPRETTY_NAME="Moorage Test 1"\n',
        "etc/passwd": PASSWD,
        "etc/shadow": SHADOW,
        "etc/login.defs": b"PASS_MIN_LEN 5\n",
    }
    app = {
        **dist_info("requests", "2.30.0"),
        **dist_info("urllib3", "1.26.0"),
        "srv/app/.env": f"AWS_ACCESS_KEY_ID={key_id}\nAWS_SECRET_ACCESS_KEY={secret_key}\n".encode(),
        "tmp/eicar.com": EICAR,
        f"etc/label-{label}": label.encode(),
    }
    return custom_image([base, app], history=HISTORY, label=label)


def clean_image(label: str = "clean") -> si.Image:
    """requests 2.31.0 only (no known vulnerability), no history."""
    return custom_image(
        [
            {"etc/os-release": b'ID=moorage-test\nVERSION_ID="1"\n'},
            {**dist_info("requests", "2.31.0"), f"etc/label-{label}": label.encode()},
        ],
        label=label,
    )


@dataclass(frozen=True)
class Pushed:
    """An image pushed and scanned: its row id in the image lists."""

    row_id: int
    image: si.Image
    namespace: str
    name: str
    tag: str


def push_and_wait(client: HssClient, registry: Any, namespace: str, name: str, tag: str, image: si.Image) -> Pushed:
    """Push ``image`` as ``namespace/name:tag`` and wait until the list shows it scanned."""
    si.push(registry, f"{namespace}/{name}", tag, image)

    def scanned() -> int | None:
        answer = client.list_registry_images(
            ListRegistryImagesRequest(namespace=namespace, image_name=name, image_version=tag, limit=10)
        )
        rows = [r for r in answer.data_list if r.image_name == name and r.image_version == tag]
        return rows[0].id if rows and rows[0].scan_status == "success" else None

    row_id = wait_for(scanned, what=f"the scan of {namespace}/{name}:{tag}")
    return Pushed(row_id, image, namespace, name, tag)
