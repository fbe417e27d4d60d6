"""The bounded JSON loader's depth scan against ``json.loads`` on 4 MiB documents: a realistic OCI
manifest (20,000 layers), the same with escapes, and shapes chosen to be hard for the scan.

    PYTHONPATH=src python bench/json_depth_bench.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import json
import time
from collections.abc import Callable

from moorage.domain.bounded_json import DEFAULT_MAX_DEPTH, JsonTooDeep, check_depth

MIB = 1024 * 1024


def manifest(layers: int) -> bytes:
    """An OCI image manifest with ``layers`` layers, each with a title annotation."""
    descriptors = [
        {
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": "sha256:" + hashlib.sha256(str(i).encode()).hexdigest(),
            "size": i,
            "annotations": {"org.opencontainers.image.title": f"layer-{i}"},
        }
        for i in range(layers)
    ]
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": descriptors[0],
            "layers": descriptors,
        }
    ).encode()


def documents() -> dict[str, bytes]:
    """The documents measured, each about 4 MiB."""
    per_layer = len(manifest(100)) / 100
    realistic = manifest(int(4 * MIB / per_layer))
    block = b"[" * 63 + b"]" * 63
    return {
        "OCI manifest, 4 MiB": realistic,
        "same, with escaped quotes": realistic.replace(b'layer-1"', b'layer-\\"1"'),
        "[[],[],...] (4M brackets)": b"[" + b"[]," * (4 * MIB // 3 - 1) + b"[]]",
        "63-deep blocks (accepted)": b"[" + (block + b",") * (4 * MIB // 127 - 1) + block + b"]",
        "brackets inside strings": b"[" + b'"[[",' * (4 * MIB // 5 - 1) + b'"[["]',
        "2M levels deep (refused)": b"[" * (2 * MIB) + b"]" * (2 * MIB),
    }


def best_ms(action: Callable[[], object], repeat: int) -> float:
    """The fastest of ``repeat`` runs, in milliseconds of CPU time (steadier than wall time on a shared machine)."""
    times = []
    for _ in range(repeat):
        started = time.process_time()
        action()
        times.append(time.process_time() - started)
    return min(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{'document':30} {'bytes':>9} {'depth scan':>11} {'json.loads':>11}  (CPU)")
    for name, document in documents().items():

        def scan(document: bytes = document) -> None:
            with contextlib.suppress(JsonTooDeep):
                check_depth(document, DEFAULT_MAX_DEPTH)

        try:
            check_depth(document, DEFAULT_MAX_DEPTH)
            parse = f"{best_ms(functools.partial(json.loads, document), args.repeat):8.1f} ms"
        except JsonTooDeep:
            parse = "(refused)"
        print(f"{name:30} {len(document):>9} {best_ms(scan, args.repeat):8.1f} ms {parse:>11}")


if __name__ == "__main__":
    main()
