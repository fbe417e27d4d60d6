"""cosign-compatible image signatures, as containers/image (skopeo, podman) reads them with
``use-sigstore-attachments: true`` and as ``cosign verify --key`` checks them.

The signed payload is a "simple signing" document naming the image and its manifest digest::

    {"critical": {"identity": {"docker-reference": "<host>/<ns>/<repo>:<tag>"},
                  "image": {"docker-manifest-digest": "sha256:<hex>"},
                  "type": "cosign container image signature"},
     "optional": {"creator": "moorage"}}

containers/image parses ``critical`` with exactly these fields (and ``optional.timestamp``, when
present, as a number), so nothing else goes there. The payload carries no time: the same image and
reference always give the same payload, so a signature that exists already is found by its payload
digest, without reading any blob (re-running an execution, or resuming one after a crash, never
signs a tag twice). Each payload is a layer (media type
``application/vnd.dev.cosign.simplesigning.v1+json``) of an OCI image manifest whose layer
annotation ``dev.cosignproject.cosign/signature`` holds the base64 signature; the manifest is
tagged ``sha256-<hex>.sig`` (cosign's convention, what skopeo looks up) and names the signed
manifest as its ``subject`` (so the OCI referrers API finds it too). Several signatures of one
digest (one per signed tag) are several layers of the same manifest.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from moorage.domain.bounded_json import load_document
from moorage.signing.interface import Blob, SignatureArtifact, SignatureEntry, SigningError, Subject

SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
SIGNATURE_TYPE = "cosign container image signature"
ARTIFACT_TYPE = "application/vnd.dev.cosign.artifact.sig.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MAX_MANIFEST_BYTES = 4 << 20
MAX_PAYLOAD_BYTES = 64 << 10
MAX_SIGNATURES = 5000
_EPOCH = "0001-01-01T00:00:00Z"


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _compact(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


class CosignScheme:
    """The ``SignatureScheme`` for cosign signatures."""

    name = "cosign"

    def signature_tag(self, manifest_digest: str) -> str:
        """``sha256-<hex>.sig``."""
        algorithm, _, hex_part = manifest_digest.partition(":")
        if algorithm != "sha256" or len(hex_part) != 64:
            raise SigningError(f"cosign signs sha256 manifest digests, not {manifest_digest!r}")
        return f"sha256-{hex_part}.sig"

    def payload(self, subject: Subject) -> bytes:
        """The simple-signing payload (field order as cosign writes it)."""
        return _compact(
            {
                "critical": {
                    "identity": {"docker-reference": subject.docker_reference},
                    "image": {"docker-manifest-digest": subject.digest},
                    "type": SIGNATURE_TYPE,
                },
                "optional": {"creator": "moorage"},
            }
        )

    def entries(self, manifest: bytes) -> list[SignatureEntry]:
        """The simple-signing layers of a signature manifest (other layers are left out)."""
        if len(manifest) > MAX_MANIFEST_BYTES:
            raise SigningError("signature manifest too large")
        try:
            document = load_document(manifest)
        except ValueError as exc:
            raise SigningError(f"signature manifest is not JSON: {exc}") from exc
        layers = document.get("layers") if isinstance(document, dict) else None
        if not isinstance(layers, list) or len(layers) > MAX_SIGNATURES:
            raise SigningError("signature manifest has no usable layer list")
        found = []
        for layer in layers:
            if not isinstance(layer, dict) or layer.get("mediaType") != SIMPLE_SIGNING:
                continue
            annotations = layer.get("annotations")
            signature = annotations.get(SIGNATURE_ANNOTATION) if isinstance(annotations, dict) else None
            digest, size = layer.get("digest"), layer.get("size")
            if (
                not isinstance(signature, str)
                or not isinstance(digest, str)
                or not isinstance(size, int)
                or isinstance(size, bool)
                or not 0 <= size <= MAX_PAYLOAD_BYTES
            ):
                continue
            found.append(SignatureEntry(digest, size, signature))
        return found

    def artifact(self, subject: Subject, entries: list[SignatureEntry]) -> SignatureArtifact:
        """The signature manifest, its config and payload blobs, and its tag."""
        if not entries:
            raise SigningError("a signature artifact needs at least one signature")
        config = _compact(
            {
                "architecture": "",
                "created": _EPOCH,
                "history": [{"created": _EPOCH}],
                "os": "",
                "rootfs": {"type": "layers", "diff_ids": [e.payload_digest for e in entries]},
                "config": {},
            }
        )
        config_blob = Blob(OCI_CONFIG, config, _sha256(config))
        manifest = _compact(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "artifactType": ARTIFACT_TYPE,
                "config": {"mediaType": OCI_CONFIG, "size": len(config), "digest": config_blob.digest},
                "layers": [
                    {
                        "mediaType": SIMPLE_SIGNING,
                        "size": e.payload_size,
                        "digest": e.payload_digest,
                        "annotations": {SIGNATURE_ANNOTATION: e.signature},
                    }
                    for e in entries
                ],
                "subject": {"mediaType": subject.media_type, "size": subject.size, "digest": subject.digest},
            }
        )
        blobs = {config_blob.digest: config_blob} | {
            e.payload_digest: Blob(SIMPLE_SIGNING, e.payload, e.payload_digest)
            for e in entries
            if e.payload is not None
        }
        return SignatureArtifact(self.signature_tag(subject.digest), manifest, OCI_MANIFEST, tuple(blobs.values()))


def new_entry(payload: bytes, signature: bytes) -> SignatureEntry:
    """A signature being added: its payload (stored with the artifact) and the signature bytes."""
    return SignatureEntry(_sha256(payload), len(payload), encode_signature(signature), payload)


def parse_payload(payload: bytes) -> tuple[str, str]:
    """(docker reference, manifest digest) of a simple-signing payload, checked as strictly as
    containers/image checks it (exact ``critical`` fields, the cosign type)."""
    try:
        document = load_document(payload)
        critical = document["critical"]
        if set(critical) != {"identity", "image", "type"} or critical["type"] != SIGNATURE_TYPE:
            raise SigningError("not a cosign simple-signing payload")
        if set(critical["identity"]) != {"docker-reference"} or set(critical["image"]) != {"docker-manifest-digest"}:
            raise SigningError("unexpected fields in the payload's identity or image")
        reference, digest = critical["identity"]["docker-reference"], critical["image"]["docker-manifest-digest"]
    except (ValueError, KeyError, TypeError) as exc:
        raise SigningError(f"malformed simple-signing payload: {exc}") from exc
    if not isinstance(reference, str) or not isinstance(digest, str):
        raise SigningError("the payload's reference and digest must be strings")
    return reference, digest


def decode_signature(signature: str) -> bytes:
    """The bytes of a base64 signature annotation."""
    try:
        return base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SigningError("the signature annotation is not base64") from exc


def encode_signature(signature: bytes) -> str:
    """A signature as the base64 text of the layer annotation."""
    return base64.b64encode(signature).decode()
