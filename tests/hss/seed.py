"""A known set of image rows and scan results written into a running server's database, and an
oracle: the same filters and sort orders applied to the plain list of what was written, so the
API's answers are compared with a computation that shares no code with the server's queries."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update

from moorage.domain.security import RegistryType, ScanSummary
from moorage.domain.security_findings import ScanWrite
from moorage.domain.security_images import ImageEntry, PlatformEntry
from moorage.domain.security_registries import RegistryFields
from moorage.metadata.database import Database
from moorage.metadata.queries import security_images as images_q
from moorage.metadata.queries import security_registries as registries_q
from moorage.metadata.queries import security_results as results_q
from moorage.metadata.tables import domains, security_images
from moorage.services.security.results import apply_to_rows

BASE_TIME = 1_700_000_000_000
EXTERNAL = {"harbor-a": RegistryType.HARBOR, "jfrog-b": RegistryType.JFROG, "other-c": RegistryType.OTHER}
LEVEL = {"critical": "High", "high": "High", "medium": "Medium", "low": "Low", "negligible": "Low", "unknown": "Low"}


@dataclass
class SeedImage:
    """One image tag as the seed writes it, with what the lists must say about it."""

    key: str
    registry: str
    registry_type: str
    image_type: str
    namespace: str
    image_name: str
    image_version: str
    size: int
    updated_at: int
    sync_time: int
    status: str  # unscan | success | failed | scanning
    failed_code: str = ""
    scan_time: int = 0
    vulns: list[tuple[str, str]] = field(default_factory=list)
    malware: int = 0
    settings: list[str] = field(default_factory=list)
    platforms: list[str] = field(default_factory=list)
    instance_id: str = ""
    instance_name: str = ""
    domain_name: str = ""
    shared_status: str = ""
    row_id: int = 0
    latest: bool = False

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.key.encode()).hexdigest()

    def platform_digest(self, platform: str) -> str:
        return "sha256:" + hashlib.sha256(f"{self.key}@{platform}".encode()).hexdigest()

    @property
    def vul_num(self) -> int:
        return len({v for v, _s in self.vulns}) if self.status == "success" else 0

    @property
    def malicious_num(self) -> int:
        return self.malware if self.status == "success" else 0

    @property
    def unsafe_num(self) -> int:
        return len(self.settings) if self.status == "success" else 0

    @property
    def level(self) -> str:
        if self.status != "success":
            return ""
        severities = [s for _v, s in self.vulns] + ["high"] * self.malware + self.settings
        if not severities:
            return "Security"
        order = ["unknown", "negligible", "low", "medium", "high", "critical"]
        return LEVEL[max(severities, key=order.index)]

    @property
    def scan_status(self) -> str:
        return {"unscan": "unscan", "success": "success", "failed": "failed", "scanning": "scanning"}[self.status]


def generate(seed: int = 7) -> list[SeedImage]:
    """About forty images over every registry type with varied names, times, sizes and results."""
    rng = random.Random(seed)
    registries = [
        ("SWR private", "SwrPrivate", "private_image"),
        ("SWR shared", "SwrShared", "shared_image"),
        ("SWR enterprise", "SwrEnterprise", "instance_image"),
        ("harbor-a", "Harbor", "harbor"),
        ("jfrog-b", "Jfrog", "jfrog"),
        ("other-c", "Other", "other"),
    ]
    images: list[SeedImage] = []
    severities = ["low", "medium", "high", "critical", "negligible"]
    for index in range(42):
        registry, registry_type, image_type = registries[index % len(registries)]
        namespace = ["alpha", "beta", "gamma"][index % 3]
        name = ["web", "api", "worker", "web-admin"][(index // 3) % 4]
        status = ["success", "success", "failed", "unscan", "success", "scanning"][index % 6]
        image = SeedImage(
            key=f"seed-{seed}-{index}",
            registry=registry,
            registry_type=registry_type,
            image_type=image_type,
            namespace=namespace,
            image_name=name,
            image_version=f"v{index % 5}.{index}",
            size=rng.randrange(1_000, 5_000_000),
            updated_at=BASE_TIME + rng.randrange(0, 10**9),
            sync_time=BASE_TIME + 10**9 + index * 1000,
            status=status,
        )
        if status in ("success", "failed"):
            image.scan_time = BASE_TIME + 2 * 10**9 + rng.randrange(0, 10**8)
        if status == "failed":
            image.failed_code = ["download_failed", "image_over_sized", "authentication_failed"][index % 3]
        if status == "success":
            count = rng.choice([0, 0, 1, 2, 3])
            image.vulns = [(f"CVE-2030-{index:02d}{n}", rng.choice(severities)) for n in range(count)]
            image.malware = 1 if index % 7 == 0 else 0
            image.settings = ["medium"] if index % 5 == 0 else []
        if index % 8 == 1:
            image.platforms = ["linux/amd64", "linux/arm64"]
        if image_type == "instance_image":
            image.instance_id, image.instance_name = "inst-1", "instance-one"
        if image_type == "shared_image":
            image.domain_name, image.shared_status = "owner-domain", "effective" if index % 4 else "expired"
        images.append(image)
    latest: dict[tuple[str, str, str], SeedImage] = {}
    for image in images:
        group = (image.registry, image.namespace, image.image_name)
        if group not in latest or (image.updated_at, image.key) > (latest[group].updated_at, latest[group].key):
            latest[group] = image
    for image in latest.values():
        image.latest = True
    return images


def domain_id_of(db: Database, name: str) -> str:
    """The id of an account (domain) by name."""
    return str(db.run_read(lambda conn: conn.execute(select(domains.c.id).where(domains.c.name == name)).scalar_one()))


def write(db: Database, domain_id: str, images: list[SeedImage]) -> None:
    """Write the registries, rows and results of ``images`` for one account; set each row id."""

    def work(conn: Any) -> None:
        registry_ids: dict[str, str] = {}
        for kind in (RegistryType.SWR_PRIVATE, RegistryType.SWR_SHARED, RegistryType.SWR_ENTERPRISE):
            registry_ids[registries_q.BUILTIN_NAMES[kind]] = registries_q.ensure_builtin(conn, domain_id, kind).id
        for name, kind in EXTERNAL.items():
            registry_id = hashlib.sha256(f"{domain_id}:{name}".encode()).hexdigest()[:32]
            if registries_q.get(conn, domain_id, registry_id) is None:
                registries_q.create(
                    conn,
                    registry_id=registry_id,
                    domain_id=domain_id,
                    fields=RegistryFields(
                        name=name,
                        type=kind,
                        api_version="V2",
                        protocol="https",
                        address=f"{name}.example.test",
                        username="",
                        password_encrypted="",
                        organization_filter="",
                        connect_cluster_id="",
                        scan_image_channel="",
                    ),
                )
            registry_ids[name] = registry_id
        for image in images:
            entry = ImageEntry(
                namespace=image.namespace,
                image_name=image.image_name,
                image_version=image.image_version,
                digest=image.digest,
                image_id=image.digest[7:19],
                size=image.size,
                updated_at=image.updated_at,
                platforms=tuple(
                    PlatformEntry(image.platform_digest(p), "", p, image.size // 2) for p in image.platforms
                ),
                domain_name=image.domain_name,
                shared_status=image.shared_status,
                instance_id=image.instance_id,
                instance_name=image.instance_name,
            )
            ids = images_q.upsert(
                conn,
                domain_id=domain_id,
                registry_id=registry_ids[image.registry],
                image_type=image.image_type,
                entries=[entry],
            )
            image.row_id = ids[entry.row_key]
        for registry_id in registry_ids.values():
            images_q.refresh_latest_versions(conn, registry_id)
        for image in images:
            digests = [image.digest, *(image.platform_digest(p) for p in image.platforms)]
            for digest in digests:
                if image.status == "unscan":
                    continue
                results_q.claim(conn, digest, "seed-job")
                if image.status == "success":
                    summary = ScanSummary(
                        tuple((v, s, ()) for v, s in image.vulns),
                        tuple((f"rule-{n}", f"/bin/evil{n}") for n in range(image.malware)),
                        tuple((f"setting-{n}", s) for n, s in enumerate(image.settings)),
                    )
                    results_q.store(
                        conn,
                        digest,
                        "seed-job",
                        ScanWrite(
                            summary=summary,
                            severity_level=summary.level().value,
                            report={"seed": True},
                            vulnerabilities=(),
                            findings=(),
                            scanners="vuln",
                            advisory_db="seed",
                            scanner_version="0",
                        ),
                    )
                elif image.status == "failed":
                    results_q.fail(conn, digest, "seed-job", code=image.failed_code, message="seeded failure")
                apply_to_rows(conn, digest)
            conn.execute(
                update(security_images)
                .where(security_images.c.id == image.row_id)
                .values(latest_scan_time=image.scan_time, latest_sync_time=image.sync_time)
            )

    db.run_write(work)


FILTER_FIELDS = (
    "namespace",
    "image_name",
    "image_version",
    "registry_name",
    "image_type",
    "scan_status",
    "latest_version",
    "image_size",
    "has_vul",
    "has_malicious_file",
    "has_unsafe_setting",
    "risky",
    "severity_level",
    "is_multarch",
    "instance_id",
    "instance_name",
    "start_latest_update_time",
    "end_latest_update_time",
    "start_latest_scan_time",
    "end_latest_scan_time",
    "start_latest_sync_time",
    "end_latest_sync_time",
)


def matches(image: SeedImage, filters: dict[str, Any]) -> bool:
    """The oracle of one image against the list filters (see api/hss/images.py for their meaning)."""
    checks = {
        "namespace": lambda v: image.namespace == v,
        "image_name": lambda v: v in image.image_name,
        "image_version": lambda v: v in image.image_version,
        "registry_name": lambda v: image.registry == v,
        "image_type": lambda v: image.image_type == v,
        "scan_status": lambda v: image.scan_status == v,
        "latest_version": lambda v: image.latest or not v,
        "image_size": lambda v: image.size <= v,
        "has_vul": lambda v: (image.vul_num > 0) == v,
        "has_malicious_file": lambda v: (image.malicious_num > 0) == v,
        "has_unsafe_setting": lambda v: (image.unsafe_num > 0) == v,
        "risky": lambda v: (image.vul_num + image.malicious_num + image.unsafe_num > 0) == v,
        "severity_level": lambda v: image.level == v,
        "is_multarch": lambda v: bool(image.platforms) == v,
        "instance_id": lambda v: image.instance_id == v,
        "instance_name": lambda v: image.instance_name == v,
        "start_latest_update_time": lambda v: image.updated_at >= v,
        "end_latest_update_time": lambda v: image.updated_at <= v,
        "start_latest_scan_time": lambda v: image.scan_time >= v,
        "end_latest_scan_time": lambda v: image.scan_time <= v,
        "start_latest_sync_time": lambda v: image.sync_time >= v,
        "end_latest_sync_time": lambda v: image.sync_time <= v,
    }
    return all(checks[k](v) for k, v in filters.items())


def expected(
    images: list[SeedImage], filters: dict[str, Any], *, sort_key: str | None = None, sort_dir: str = "asc"
) -> list[SeedImage]:
    """What a list must answer, in order: newest update first without a sort key."""
    found = [i for i in images if matches(i, filters)]
    if sort_key is None:
        return sorted(found, key=lambda i: (i.updated_at, i.row_id), reverse=True)
    attribute = {
        "latest_scan_time": "scan_time",
        "latest_update_time": "updated_at",
        "image_size": "size",
        "latest_sync_time": "sync_time",
    }[sort_key]
    return sorted(found, key=lambda i: (getattr(i, attribute), i.row_id), reverse=sort_dir == "desc")
