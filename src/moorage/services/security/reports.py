"""Security reports of an account's images: for one report type (vulnerabilities, failed baseline
rules, malicious files, software, files, sensitive information, software that cannot be checked,
risky build commands), one table row per finding of each selected image. The statistic counts
the rows; an export records the table (compressed JSON in ``security_exports``) before the
answer, and the download renders it as CSV (a spreadsheet opens it; cells that would start a
formula are quoted) or as a self-contained HTML page a person reads (well-formed XHTML syntax,
every value escaped). PDF is not offered: no PyPI library made for it renders HTML offline
without native dependencies here, and the HTML page prints to PDF from any browser.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
import secrets
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from moorage.domain.bounded_json import load_document
from moorage.domain.errors import Invalid, NotFound
from moorage.domain.identity import Principal
from moorage.domain.security import ImageRow, ImageVisibility
from moorage.domain.security_images import ImageRef, ImageScope
from moorage.domain.security_tasks import ExportTask, ReportSelection
from moorage.metadata.database import Database
from moorage.metadata.queries import security_details as details_q
from moorage.metadata.queries import security_exports as exports_q
from moorage.metadata.queries import security_images as images_q
from moorage.services.security.baseline_details import BaselineService
from moorage.services.security.image_details import ImageDetailService
from moorage.services.security.images import account_of, image_visibility

REPORT_TYPES = (
    "vulnerability",
    "risk-config",
    "malwares",
    "apps",
    "files",
    "sensitive-info",
    "non-compliant-app",
    "build-command-risks",
)
FORMATS = ("csv", "html")
MAX_IMAGES = 1000
MAX_ROWS = 200_000
IMAGE_COLUMNS = ("namespace", "image_name", "image_version", "image_digest")
TITLES = {
    "vulnerability": "Vulnerabilities",
    "risk-config": "Failed baseline checks",
    "malwares": "Malicious files",
    "apps": "Installed software",
    "files": "Files",
    "sensitive-info": "Sensitive information",
    "non-compliant-app": "Software that cannot be checked",
    "build-command-risks": "Risky build commands",
}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class ReportTable:
    """A report: its title, column names and rows (strings)."""

    report_type: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    images: int
    created_at: int


def to_json(table: ReportTable) -> bytes:
    """The stored form of a table."""
    return zlib.compress(
        json.dumps(
            {
                "report_type": table.report_type,
                "title": table.title,
                "columns": table.columns,
                "rows": table.rows,
                "images": table.images,
                "created_at": table.created_at,
            }
        ).encode()
    )


def from_json(data: bytes) -> ReportTable:
    """A stored table (``Invalid`` when unreadable)."""
    try:
        body = load_document(zlib.decompress(data, bufsize=1 << 20))
        return ReportTable(
            str(body["report_type"]),
            str(body["title"]),
            tuple(str(c) for c in body["columns"]),
            tuple(tuple(str(v) for v in row) for row in body["rows"]),
            int(body["images"]),
            int(body["created_at"]),
        )
    except (ValueError, KeyError, TypeError, zlib.error) as error:
        raise Invalid(f"the stored report cannot be read: {error}") from error


def _cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def render_csv(table: ReportTable) -> bytes:
    """The table as CSV (UTF-8 with a byte-order mark, so spreadsheets read it as UTF-8)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.columns)
    writer.writerows([_cell(v) for v in row] for row in table.rows)
    return ("\ufeff" + out.getvalue()).encode()


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _escape(value: str) -> str:
    """HTML-escaped, with characters XML does not allow replaced (image contents are arbitrary)."""
    return html.escape(_NOT_XML.sub("\ufffd", value))


def render_html(table: ReportTable) -> bytes:
    """The table as a self-contained HTML page (well-formed: it parses as XML too)."""
    e = _escape
    when = datetime.fromtimestamp(table.created_at / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
    head = "".join(f"<th>{e(c)}</th>" for c in table.columns)
    body = "\n".join("<tr>" + "".join(f"<td>{e(v)}</td>" for v in row) + "</tr>" for row in table.rows)
    return f"""<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" lang="en">
<head>
<meta charset="utf-8" />
<title>{e(table.title)} - moorage security report</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border: 1px solid #bbb; padding: 4px 8px; text-align: left; vertical-align: top; font-size: 90%; }}
th {{ background: #eee; }}
</style>
</head>
<body>
<h1>{e(table.title)}</h1>
<p>moorage security report, {e(when)}: {table.images} image(s), {len(table.rows)} row(s).</p>
<table>
<thead><tr>{head}</tr></thead>
<tbody>
{body}
</tbody>
</table>
</body>
</html>
""".encode()


class ReportService:
    """See the module docstring."""

    def __init__(self, db: Database, details: ImageDetailService, baseline: BaselineService) -> None:
        self.db = db
        self.details = details
        self.baseline = baseline

    async def _images(self, seen: ImageVisibility, selection: ReportSelection) -> list[ImageRow]:
        if selection.operate_all:
            rows, _ = await self.db.read(
                lambda conn: images_q.page(
                    conn, seen, selection.filter, sort_key=None, descending=False, offset=0, limit=MAX_IMAGES
                ),
                heavy=True,
            )
            return rows
        if not selection.image_ids:
            raise Invalid("image_id_list is empty (or set operate_all)")
        if len(selection.image_ids) > MAX_IMAGES:
            raise Invalid(f"at most {MAX_IMAGES} images")
        wanted = [ImageRef(image_id[:200]) for image_id in selection.image_ids]
        resolved = await self.db.read(lambda conn: [details_q.resolve(conn, seen, ref) for ref in wanted])
        found: dict[int, ImageRow] = {}
        for ref, row in zip(wanted, resolved, strict=True):
            if row is None:
                raise NotFound(f"image {ref.image_id[:80]!r} not found", reason="image_not_found")
            found.setdefault(row.id, row)
        return list(found.values())

    async def table(
        self, principal: Principal, report_type: str, selection: ReportSelection, *, limit: int = MAX_ROWS
    ) -> ReportTable:
        """The report's rows (at most ``limit``)."""
        if report_type not in REPORT_TYPES:
            raise Invalid(f"security_report_type must be one of {', '.join(REPORT_TYPES)}")
        images = await self._images(image_visibility(principal), selection)
        columns, rows_of = self._kind(principal, report_type)
        rows: list[tuple[str, ...]] = []
        for image in images:
            prefix = (image.namespace, image.image_name, image.image_version, image.image_digest)
            for values in await rows_of(image):
                rows.append(prefix + tuple(str(v) for v in values))
                if len(rows) >= limit:
                    break
            if len(rows) >= limit:
                break
        return ReportTable(
            report_type,
            TITLES[report_type],
            IMAGE_COLUMNS + columns,
            tuple(rows),
            len(images),
            int(datetime.now(UTC).timestamp() * 1000),
        )

    def _kind(
        self, principal: Principal, report_type: str
    ) -> tuple[tuple[str, ...], Callable[[ImageRow], Awaitable[Sequence[Sequence[Any]]]]]:
        d, b = self.details, self.baseline

        def ref(image: ImageRow) -> ImageRef:
            return ImageRef(str(image.id))

        async def vulnerabilities(image: ImageRow) -> list[tuple[Any, ...]]:
            return [
                (
                    v.vul_id,
                    v.severity,
                    v.repair_necessity,
                    v.app_name,
                    v.version,
                    v.app_path,
                    v.solution,
                    "handled" if v.handled else "unhandled",
                )
                for v in await d.vulnerabilities(
                    principal, ref(image), necessity=None, vul_id=None, app_name=None, kind=None, handle_status=None
                )
            ]

        async def risk_config(image: ImageRow) -> list[tuple[Any, ...]]:
            return [
                (r.check_name, r.check_rule_id, r.check_rule_name, r.severity, r.scan_result)
                for r in await b.rules(
                    principal, ref(image), check_name=None, result_type="failed", check_rule_name=None, severity=None
                )
            ]

        async def malwares(image: ImageRow) -> list[tuple[Any, ...]]:
            return [
                (m.file_path, m.size, m.description) for m in await d.malware(principal, ref(image), file_name=None)
            ]

        async def apps(image: ImageRow) -> list[tuple[Any, ...]]:
            return [
                (a.app_name, a.app_type, a.app_version, a.vul_num)
                for a in await d.apps(principal, ref(image), app_name=None)
            ]

        async def files(image: ImageRow) -> list[tuple[Any, ...]]:
            return [(f.file_path, f.size) for f in await d.files(principal, ref(image), file_name=None)]

        async def sensitive(image: ImageRow) -> list[tuple[Any, ...]]:
            return [
                (s.name, s.severity, s.file_path, s.content, s.handle_status)
                for s in await d.sensitive(principal, ref(image), file_path=None, severity=None, handle_status=None)
            ]

        async def non_compliant(image: ImageRow) -> list[tuple[Any, ...]]:
            return [
                (a.app_name, a.app_version, a.app_path)
                for a in await d.non_compliant_apps(principal, ref(image), app_name=None)
            ]

        async def build(image: ImageRow) -> list[tuple[Any, ...]]:
            found = await b.build_risk_images(principal, ImageScope(image_id=str(image.id)), rule_id=None)
            return [(instruction, remediation) for item in found for instruction, remediation in item.instructions]

        kinds: dict[str, tuple[tuple[str, ...], Callable[[ImageRow], Awaitable[Sequence[Sequence[Any]]]]]] = {
            "vulnerability": (
                (
                    "vul_id",
                    "severity",
                    "repair_necessity",
                    "app_name",
                    "app_version",
                    "app_path",
                    "solution",
                    "handle_status",
                ),
                vulnerabilities,
            ),
            "risk-config": (("check_name", "check_rule_id", "check_rule_name", "severity", "scan_result"), risk_config),
            "malwares": (("file_path", "size", "description"), malwares),
            "apps": (("app_name", "app_type", "app_version", "vul_num"), apps),
            "files": (("file_path", "size"), files),
            "sensitive-info": (("rule", "severity", "file_path", "content", "handle_status"), sensitive),
            "non-compliant-app": (("app_name", "app_version", "app_path"), non_compliant),
            "build-command-risks": (("build_instruction", "remediation"), build),
        }
        return kinds[report_type]

    async def export(
        self,
        principal: Principal,
        report_type: str,
        selection: ReportSelection,
        *,
        export_size: int | None,
        kind: str,
        file_format: str,
    ) -> tuple[str, int]:
        """Record an export of the report; (task id, rows)."""
        limit = MAX_ROWS if not export_size else min(export_size, MAX_ROWS)
        table = await self.table(principal, report_type, selection, limit=limit)
        domain_id = account_of(principal)
        task_id = secrets.token_hex(16)
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        await self.db.write(
            lambda conn: exports_q.create(
                conn,
                task_id=task_id,
                domain_id=domain_id,
                kind=kind,
                file_format=file_format,
                file_name=f"{kind}-{report_type}-{stamp}",
                content=to_json(table),
            )
        )
        return task_id, len(table.rows)

    async def task(self, principal: Principal, task_id: str) -> tuple[ExportTask, ReportTable]:
        """An export task and its table."""
        domain_id = account_of(principal)
        found = await self.db.read(lambda conn: exports_q.get(conn, domain_id, task_id))
        if found is None or found.content is None:
            raise NotFound(f"export task {task_id[:64]!r} not found", reason="export_not_found")
        return found, from_json(found.content)

    async def download(self, principal: Principal, task_id: str, file_format: str | None) -> tuple[bytes, str, str]:
        """(content, media type, file name) of an export, as CSV or HTML (default: the task's own)."""
        found, table = await self.task(principal, task_id)
        wanted = file_format or found.file_format
        if wanted not in FORMATS:
            raise Invalid(f"format must be one of {', '.join(FORMATS)}")
        if wanted == "csv":
            return render_csv(table), "text/csv; charset=utf-8", f"{found.file_name}.csv"
        return render_html(table), "text/html; charset=utf-8", f"{found.file_name}.html"
