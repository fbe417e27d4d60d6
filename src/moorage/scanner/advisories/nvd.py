"""NVD importer: CVE JSON 2.0 (the API's pages or the yearly ``nvdcve-2.0-YYYY.json.gz`` feeds).

NVD names products by CPE, not by package, so it matches nothing on its own; it supplies CVSS
vectors and descriptions for CVEs whose matching records (Debian tracker, Alpine secdb) carry
none. Rejected CVEs are dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pydantic

from moorage.scanner.advisories.errors import FeedFormatError
from moorage.scanner.advisories.feeds import iter_documents
from moorage.scanner.advisories.interface import ImportTally
from moorage.scanner.advisories.records import AdvisoryRecord, CveMetadata


class _Model(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="ignore")


class NvdCvssData(_Model):
    """``cvssData``."""

    vectorString: str


class NvdMetric(_Model):
    """One ``cvssMetricV*`` entry."""

    type: str = ""
    cvssData: NvdCvssData


class NvdMetrics(_Model):
    """``metrics``."""

    cvssMetricV40: list[NvdMetric] = []
    cvssMetricV31: list[NvdMetric] = []
    cvssMetricV30: list[NvdMetric] = []
    cvssMetricV2: list[NvdMetric] = []


class NvdText(_Model):
    """``descriptions[]``."""

    lang: str = ""
    value: str = ""


class NvdReference(_Model):
    """``references[]``."""

    url: str = ""


class NvdCve(_Model):
    """``vulnerabilities[].cve``."""

    id: str = pydantic.Field(min_length=1, max_length=64)
    published: str = ""
    vulnStatus: str = ""
    descriptions: list[NvdText] = []
    metrics: NvdMetrics = NvdMetrics()
    references: list[NvdReference] = []


class NvdItem(_Model):
    """``vulnerabilities[]``."""

    cve: NvdCve


class NvdDocument(_Model):
    """A CVE API 2.0 response or a 2.0 data feed."""

    vulnerabilities: list[NvdItem]


def _vectors(metrics: NvdMetrics) -> tuple[str, ...]:
    vectors: list[str] = []
    for group in (metrics.cvssMetricV40, metrics.cvssMetricV31, metrics.cvssMetricV30, metrics.cvssMetricV2):
        ordered = sorted(group, key=lambda metric: metric.type != "Primary")
        vectors.extend(metric.cvssData.vectorString for metric in ordered[:1])
    return tuple(vectors)


def convert_cve(cve: NvdCve, tally: ImportTally) -> CveMetadata | None:
    """NVD's facts about one CVE; None for a rejected one."""
    if cve.vulnStatus.strip().lower() == "rejected":
        tally.skip("withdrawn", cve.id)
        return None
    description = next((d.value for d in cve.descriptions if d.lang == "en"), "")
    return CveMetadata(
        id=cve.id.strip(),
        description=description.strip()[:8000],
        cvss_vectors=_vectors(cve.metrics),
        references=tuple(dict.fromkeys(r.url for r in cve.references if r.url))[:50],
        published=cve.published,
    )


class NvdImporter:
    """Reads NVD CVE JSON 2.0 documents (plain, gzip, or a directory of them)."""

    kind: ClassVar[str] = "nvd"

    def read(self, location: Path, tally: ImportTally) -> Iterator[AdvisoryRecord | CveMetadata]:
        """Yield ``CveMetadata`` for every CVE that is not rejected."""
        for document in iter_documents(location, (".json",)):
            try:
                parsed = NvdDocument.model_validate_json(document.data)
            except (pydantic.ValidationError, json.JSONDecodeError, ValueError) as error:
                raise FeedFormatError(
                    f"{document.name}: not an NVD CVE JSON 2.0 document: {str(error).splitlines()[0]}"
                ) from error
            for item in parsed.vulnerabilities:
                metadata = convert_cve(item.cve, tally)
                if metadata is not None:
                    yield metadata
