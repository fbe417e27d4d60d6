"""A scanned image's software bill of materials, as CycloneDX or SPDX JSON, from the packages its
scan stored: the same writers ``moorage sbom`` uses, without reading the image again. A
multi-architecture image gives one document describing each platform image."""

from __future__ import annotations

from dataclasses import dataclass

from moorage.domain.errors import Invalid, NotFound
from moorage.domain.identity import Principal
from moorage.domain.security import ScanStatus
from moorage.domain.security_images import ImageRef
from moorage.metadata.queries import security_packages as packages_q
from moorage.scanner.image_inventory import ImageInventory
from moorage.scanner.inventory import Ecosystem, Package
from moorage.scanner.sbom import make_writer
from moorage.services.security.detail_base import DetailBase, row_ids_by_digest
from moorage.services.security.images import image_visibility

SBOM_FORMATS = {"cyclonedx": "application/vnd.cyclonedx+json", "spdx": "application/spdx+json"}
"""Format name -> the media type of its document."""


@dataclass(frozen=True, slots=True)
class SbomDocument:
    """A rendered SBOM."""

    text: str
    media_type: str
    file_name: str


def _ecosystem(value: str) -> Ecosystem | None:
    try:
        return Ecosystem(value)
    except ValueError:
        return None


class SbomExport(DetailBase):
    """See the module docstring."""

    async def document(self, principal: Principal, ref: ImageRef, *, format_name: str) -> SbomDocument:
        """The image's SBOM in ``format_name`` (``cyclonedx`` or ``spdx``); ``NotFound`` before a
        successful scan."""
        media_type = SBOM_FORMATS.get(format_name)
        if media_type is None:
            raise Invalid(f"format must be one of {', '.join(SBOM_FORMATS)}")
        seen = image_visibility(principal)

        def work() -> SbomDocument:
            row = self.image(seen, ref)
            if row.scan_status is not ScanStatus.SUCCESS:
                raise NotFound("the image has no successful scan yet", reason="image_not_scanned")
            digests = list(row_ids_by_digest(row))
            self.reader.ensure_packages(digests)
            stored = self.db.run_read(lambda conn: packages_q.of_digests(conn, digests))
            name = f"{row.repository_path}:{row.image_version}"
            inventories = []
            for digest in digests:
                packages = []
                for s in stored:
                    ecosystem = _ecosystem(s.package.ecosystem)
                    if s.manifest_digest != digest or ecosystem is None:
                        continue
                    p = s.package
                    packages.append(
                        Package(ecosystem, p.name, p.version, p.purl, layer_digest=p.layer_digest, path=p.path)
                    )
                packages.sort(key=lambda p: (p.ecosystem, p.name, p.version, p.path))
                inventories.append(ImageInventory(name, manifest_digest=digest, packages=tuple(packages)))
            text = make_writer(format_name).render(inventories)
            safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
            suffix = "cdx.json" if format_name == "cyclonedx" else "spdx.json"
            return SbomDocument(text, media_type, f"{safe}.{suffix}")

        return await self.run(work)
