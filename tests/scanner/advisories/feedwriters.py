"""Write advisory feeds in each source's own format, for importer and matcher tests.

Each helper builds a document the way its publisher does (OSV, the Debian security tracker's
JSON, Alpine secdb, Red Hat CSAF VEX, NVD CVE JSON 2.0), from a few arguments, so a test states
only what it is about.
"""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import zstandard


def osv_record(
    record_id: str,
    *,
    ecosystem: str = "PyPI",
    package: str = "example",
    events: list[dict[str, str]] | None = None,
    ranges: list[dict[str, Any]] | None = None,
    versions: list[str] | None = None,
    aliases: list[str] | None = None,
    withdrawn: str | None = None,
    summary: str = "",
    details: str = "",
    severity: list[dict[str, str]] | None = None,
    database_specific: dict[str, Any] | None = None,
    affected: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """An OSV document; ``events`` makes one ECOSYSTEM range, ``ranges`` gives them all."""
    if affected is None:
        entry: dict[str, Any] = {"package": {"ecosystem": ecosystem, "name": package}}
        if ranges is not None:
            entry["ranges"] = ranges
        elif events is not None:
            entry["ranges"] = [{"type": "ECOSYSTEM", "events": events}]
        if versions is not None:
            entry["versions"] = versions
        affected = [entry]
    document: dict[str, Any] = {
        "schema_version": "1.6.0",
        "id": record_id,
        "modified": "2024-01-01T00:00:00Z",
        "published": "2023-12-01T00:00:00Z",
        "aliases": aliases or [],
        "summary": summary,
        "details": details,
        "affected": affected,
        "references": [{"type": "ADVISORY", "url": f"https://example.test/{record_id}"}],
    }
    if withdrawn:
        document["withdrawn"] = withdrawn
    if severity:
        document["severity"] = severity
    if database_specific:
        document["database_specific"] = database_specific
    return document


def write_osv_dir(directory: Path, records: list[dict[str, Any]]) -> Path:
    """One ``<id>.json`` per record, as osv.dev's zips and the vulndb repositories hold them."""
    directory.mkdir(parents=True, exist_ok=True)
    for record in records:
        (directory / f"{record['id']}.json").write_text(json.dumps(record))
    return directory


def osv_zip(records: list[dict[str, Any]], *, extra: dict[str, bytes] | None = None) -> bytes:
    """A zip as osv.dev publishes per ecosystem (``<id>.json`` members), plus ``extra`` members."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for record in records:
            archive.writestr(f"{record['id']}.json", json.dumps(record))
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def alpine_secdb_json(branch: str, packages: dict[str, dict[str, list[str]]], repo: str = "main") -> bytes:
    """One secdb JSON document as bytes (see ``write_alpine_secdb``)."""
    document = {
        "apkurl": "{{urlprefix}}/{{distroversion}}/{{reponame}}/{{arch}}/{{pkg.name}}-{{pkg.ver}}.apk",
        "archs": ["x86_64", "aarch64"],
        "reponame": repo,
        "urlprefix": "https://dl-cdn.alpinelinux.org/alpine",
        "distroversion": branch,
        "packages": [{"pkg": {"name": name, "secfixes": fixes}} for name, fixes in packages.items()],
    }
    return json.dumps(document).encode()


def csaf_vex_archive(documents: list[dict[str, Any]]) -> bytes:
    """A ``csaf_vex_*.tar.zst`` as Red Hat publishes it: one ``YEAR/cve-....json`` per document."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for document in documents:
            cve = str(document["vulnerabilities"][0]["cve"])
            data = json.dumps(document).encode()
            entry = tarfile.TarInfo(f"{cve.split('-')[1]}/{cve.lower()}.json")
            entry.size = len(data)
            archive.addfile(entry, io.BytesIO(data))
    return zstandard.ZstdCompressor().compress(buffer.getvalue())


def debian_release(
    status: str,
    *,
    fixed_version: str | None = None,
    urgency: str = "not yet assigned",
    nodsa: str | None = None,
    nodsa_reason: str | None = None,
) -> dict[str, Any]:
    """One ``releases[codename]`` entry of the Debian tracker."""
    entry: dict[str, Any] = {"status": status, "repositories": {}, "urgency": urgency}
    if fixed_version is not None:
        entry["fixed_version"] = fixed_version
    if nodsa is not None:
        entry["nodsa"] = nodsa
    if nodsa_reason is not None:
        entry["nodsa_reason"] = nodsa_reason
    return entry


def write_debian_tracker(path: Path, packages: dict[str, dict[str, dict[str, dict[str, Any]]]]) -> Path:
    """The tracker JSON: package -> CVE -> release codename -> state (descriptions filled in)."""
    document = {
        package: {
            cve: {"description": f"{package}: problem {cve}", "scope": "remote", "releases": releases}
            for cve, releases in issues.items()
        }
        for package, issues in packages.items()
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))
    return path


def write_alpine_secdb(path: Path, branch: str, packages: dict[str, dict[str, list[str]]], repo: str = "main") -> Path:
    """One secdb JSON document: branch (``v3.19``), package -> fixed version -> ids."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(alpine_secdb_json(branch, packages, repo))
    return path


def csaf_vex(
    cve: str,
    *,
    fixed: Sequence[tuple[str, str, str]] = (),
    affected: Sequence[tuple[str, str, str]] = (),
    platforms: dict[str, str] | None = None,
    impact: str = "Important",
    vector: str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
) -> dict[str, Any]:
    """A Red Hat VEX document for one CVE.

    ``platforms``: product id -> CPE. ``fixed``: (platform id, NEVRA ``name-[epoch:]version-release.arch``,
    RHSA id). ``affected``: (platform id, package name, remediation ``category|details`` or "").
    """
    platforms = platforms or {
        "red_hat_enterprise_linux_9": "cpe:/o:redhat:enterprise_linux:9",
        "BaseOS-9.4.0.Z.MAIN": "cpe:/o:redhat:enterprise_linux:9::baseos",
        "BaseOS-9.2.0.Z.EUS": "cpe:/o:redhat:rhel_eus:9.2::baseos",
        "red_hat_enterprise_linux_8": "cpe:/o:redhat:enterprise_linux:8",
    }
    branches: list[dict[str, Any]] = [
        {
            "category": "product_name",
            "name": product_id,
            "product": {
                "name": product_id,
                "product_id": product_id,
                "product_identification_helper": {"cpe": cpe},
            },
        }
        for product_id, cpe in platforms.items()
    ]
    relationships: list[dict[str, Any]] = []
    fixed_ids: list[str] = []
    remediations: list[dict[str, Any]] = []
    for platform, nevra, rhsa in fixed:
        name, rest = nevra.rsplit("-", 2)[0], nevra.rsplit("-", 2)[1:]
        version, release_arch = rest
        release, arch = release_arch.rsplit(".", 1)
        epoch = "0"
        if ":" in version:
            epoch, version = version.split(":", 1)
        purl = f"pkg:rpm/redhat/{name}@{version}-{release}?arch={arch}"
        if epoch != "0":
            purl += f"&epoch={epoch}"
        branches.append(
            {
                "category": "product_version",
                "name": nevra,
                "product": {
                    "name": nevra,
                    "product_id": nevra,
                    "product_identification_helper": {"purl": purl},
                },
            }
        )
        joined = f"{platform}:{nevra}"
        relationships.append(_relationship(joined, nevra, platform))
        fixed_ids.append(joined)
        remediations.append(
            {
                "category": "vendor_fix",
                "details": "For details on how to apply this update...",
                "product_ids": [joined],
                "url": f"https://access.redhat.com/errata/{rhsa}",
            }
        )
    affected_ids: list[str] = []
    for platform, name, remediation in affected:
        branches.append({"category": "product_version", "name": name, "product": {"name": name, "product_id": name}})
        joined = f"{platform}:{name}"
        relationships.append(_relationship(joined, name, platform))
        affected_ids.append(joined)
        if remediation:
            category, details = remediation.split("|", 1)
            remediations.append({"category": category, "details": details, "product_ids": [joined]})
    every = fixed_ids + affected_ids
    return {
        "document": {
            "aggregate_severity": {
                "namespace": "https://access.redhat.com/security/updates/classification/",
                "text": impact,
            },
            "category": "csaf_vex",
            "csaf_version": "2.0",
            "title": f"{cve} problem",
            "tracking": {"id": cve, "status": "final"},
        },
        "product_tree": {
            "branches": [{"category": "vendor", "name": "Red Hat", "branches": branches}],
            "relationships": relationships,
        },
        "vulnerabilities": [
            {
                "cve": cve,
                "title": f"component: {cve} flaw",
                "notes": [{"category": "description", "text": f"A flaw was found ({cve}).", "title": "Description"}],
                "product_status": {"fixed": fixed_ids, "known_affected": affected_ids},
                "remediations": remediations,
                "scores": [
                    {
                        "cvss_v3": {"baseScore": 9.8, "vectorString": vector, "version": "3.1"},
                        "products": every,
                    }
                ],
                "threats": [{"category": "impact", "details": impact, "product_ids": every}],
                "references": [{"category": "self", "url": f"https://access.redhat.com/security/cve/{cve}"}],
                "release_date": "2024-01-02T00:00:00+00:00",
            }
        ],
    }


def _relationship(joined: str, component: str, platform: str) -> dict[str, Any]:
    return {
        "category": "default_component_of",
        "full_product_name": {"name": f"{component} as a component of {platform}", "product_id": joined},
        "product_reference": component,
        "relates_to_product_reference": platform,
    }


def nvd_feed(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """An NVD CVE JSON 2.0 document; each entry: id, description, vectors (list), status."""
    vulnerabilities = []
    for entry in entries:
        metrics: dict[str, list[dict[str, Any]]] = {}
        for vector in entry.get("vectors", []):
            key = {"CVSS:4.0": "cvssMetricV40", "CVSS:3.1": "cvssMetricV31", "CVSS:3.0": "cvssMetricV30"}.get(
                vector[:8], "cvssMetricV2"
            )
            metrics.setdefault(key, []).append(
                {"source": "nvd@nist.gov", "type": "Primary", "cvssData": {"vectorString": vector}}
            )
        vulnerabilities.append(
            {
                "cve": {
                    "id": entry["id"],
                    "published": "2023-01-01T00:00:00.000",
                    "vulnStatus": entry.get("status", "Analyzed"),
                    "descriptions": [{"lang": "en", "value": entry.get("description", "")}],
                    "metrics": metrics,
                    "references": [{"url": f"https://nvd.example.test/{entry['id']}"}],
                }
            }
        )
    return {"format": "NVD_CVE", "version": "2.0", "vulnerabilities": vulnerabilities}
