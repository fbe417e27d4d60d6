"""What the installed advisory database says about vulnerability ids: a title and description, a
reference link, and the CVEs behind each id (score, publication time, description), for the
global vulnerability lists, the CVE details and the whitelists. Ids the database does not know
get what the stored findings say (their title, score and aliases)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from moorage.domain.security_findings import AdvisoryFacts, CveFacts
from moorage.scanner.advisories.errors import StoreError
from moorage.scanner.advisories.store import AdvisoryStore
from moorage.scanner.matching.severity import best_score

MAX_DESCRIPTION = 2000


def epoch_ms(text: str) -> int:
    """An ISO 8601 time as epoch milliseconds (0 when unreadable)."""
    if not text:
        return 0
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return 0
    if moment.tzinfo is None:
        return 0
    return int(moment.timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class Known:
    """What the stored findings say about a vulnerability id (the fallback)."""

    title: str = ""
    aliases: tuple[str, ...] = ()
    score: float | None = None


class AdvisoryLookup:
    """Looks vulnerability ids up in the advisory database at ``path`` (opened per call: the file
    may be replaced by ``moorage vulndb update`` at any time)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def describe(self, known: dict[str, Known]) -> dict[str, AdvisoryFacts]:
        """Facts for every id of ``known`` (what the findings said, completed from the database)."""
        found: dict[str, AdvisoryFacts] = {}
        store = self._open()
        try:
            for vul_id, fallback in known.items():
                found[vul_id] = self._one(store, vul_id, fallback)
        finally:
            if store is not None:
                store.close()
        return found

    def _open(self) -> AdvisoryStore | None:
        if not self.path.is_file():
            return None
        try:
            return AdvisoryStore(self.path)
        except StoreError:
            return None

    def _one(self, store: AdvisoryStore | None, vul_id: str, known: Known) -> AdvisoryFacts:
        records = []
        if store is not None:
            try:
                records = store.find(vul_id)
            except StoreError:
                records = []
        title = next((r.summary for r in records if r.summary), "") or known.title
        description = next((r.details for r in records if r.details), "") or title
        links = [link for r in records for link in r.references]
        cve_ids = _cve_ids([vul_id, *known.aliases, *(a for r in records for a in (r.id, *r.aliases))])
        metadata = {}
        if store is not None and cve_ids:
            try:
                metadata = store.cve_metadata(cve_ids)
            except StoreError:
                metadata = {}
        vectors = [v for r in records for v in r.cvss_vectors]
        published = next((r.published for r in records if r.published), "")
        cves = []
        for cve_id in cve_ids:
            facts = metadata.get(cve_id)
            score = best_score([*(facts.cvss_vectors if facts else ()), *vectors])
            cves.append(
                CveFacts(
                    cve_id,
                    round(score.base_score if score else (known.score or 0.0), 1),
                    epoch_ms(facts.published if facts and facts.published else published),
                    ((facts.description if facts and facts.description else description) or title)[:MAX_DESCRIPTION],
                )
            )
        url = links[0] if links else (f"https://nvd.nist.gov/vuln/detail/{cve_ids[0]}" if cve_ids else "")
        return AdvisoryFacts(vul_id, title, description[:MAX_DESCRIPTION], url, tuple(cves))


def _cve_ids(ids: Sequence[str] | Iterable[str]) -> list[str]:
    return list(dict.fromkeys(i for i in ids if i.upper().startswith("CVE-")))
