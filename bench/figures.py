"""The benchmark's figures: their names and units, targets, and how results are printed and compared.

Ratios are oriented so that >= 1.0 always means "moorage at least as good as the reference":
moorage / reference for rates, reference / moorage for latencies (marked "inverted").
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.parameters import MIB, WorkloadSizes

LARGE_BLOB_SHARE_OF_LIMIT = 0.70
RESULTS_SCHEMA = 1
BUSY_LOAD_AVERAGE = 0.5


@dataclass(frozen=True)
class Figure:
    """One measured quantity: its key in the results, a label template and unit, and its direction."""

    key: str
    label: str
    unit: str
    higher_is_better: bool = True
    judged_against_limits: bool = False

    def describe(self, sizes: WorkloadSizes) -> str:
        """The label with this run's sizes filled in."""
        return self.label.format(
            large=_size(sizes.large_blob_bytes),
            chunk=_size(sizes.chunk_bytes),
            small_count=f"{sizes.small_blob_count:,}",
            small=_size(sizes.small_blob_bytes),
            small_conc=sizes.small_blob_concurrency,
            manifest_conc=sizes.manifest_concurrency,
            tags=f"{sizes.tag_count:,}",
            tag_conc=sizes.tag_concurrency,
            page=sizes.page_size,
            repos=f"{sizes.catalog_repositories:,}",
            images=f"{sizes.image_count:,}",
            image_conc=sizes.image_concurrency,
        )


def _size(size: int) -> str:
    return f"{size // MIB} MiB" if size >= MIB and size % MIB == 0 else f"{size // 1024} KiB"


FIGURES: tuple[Figure, ...] = (
    Figure("blob_push_monolithic", "{large} blob push, monolithic", "MB/s", judged_against_limits=True),
    Figure(
        "blob_push_chunked",
        "{large} blob push, chunked ({chunk} PATCHes)",
        "MB/s",
        judged_against_limits=True,
    ),
    Figure("blob_pull", "{large} blob pull", "MB/s", judged_against_limits=True),
    Figure("small_blob_push", "{small_count} blobs of {small} pushed, concurrency {small_conc}", "blobs/s"),
    Figure("small_blob_push_cpu_ms", "  server CPU per blob (all its processes)", "ms", higher_is_better=False),
    Figure("manifest_get_tag_rps", "manifest GET by tag, concurrency {manifest_conc}", "req/s"),
    Figure("manifest_get_tag_p50_ms", "  p50 latency", "ms", higher_is_better=False),
    Figure("manifest_get_tag_p99_ms", "  p99 latency", "ms", higher_is_better=False),
    Figure("manifest_get_tag_rps_cpu_ms", "  server CPU per request (all its processes)", "ms", higher_is_better=False),
    Figure("manifest_head_digest_rps", "manifest HEAD by digest, concurrency {manifest_conc}", "req/s"),
    Figure("manifest_head_digest_p50_ms", "  p50 latency", "ms", higher_is_better=False),
    Figure("manifest_head_digest_p99_ms", "  p99 latency", "ms", higher_is_better=False),
    Figure(
        "manifest_head_digest_rps_cpu_ms", "  server CPU per request (all its processes)", "ms", higher_is_better=False
    ),
    Figure("tag_put", "manifest PUT by tag (filling {tags} tags), concurrency {tag_conc}", "tags/s"),
    Figure("tag_put_cpu_ms", "  server CPU per tag (all its processes)", "ms", higher_is_better=False),
    Figure("tags_list_whole", "list {tags} tags, whole", "tags/s"),
    Figure("tags_list_paginated", "list {tags} tags, n={page} via Link", "tags/s"),
    Figure("catalog_whole", "catalog of {repos} repositories, whole", "repos/s"),
    Figure("catalog_paginated", "catalog of {repos} repositories, n={page} via Link", "repos/s"),
    Figure("image_push", "{images} small images pushed (config + 2 layers), concurrency {image_conc}", "images/s"),
    Figure("image_push_cpu_ms", "  server CPU per image (all its processes)", "ms", higher_is_better=False),
)
FIGURE_KEYS = tuple(figure.key for figure in FIGURES)
LIMIT_LABELS = {
    "sha256_mbps": "sha256 (hashlib, one core)",
    "disk_fsync_write_mbps": "disk write + fsync",
    "loopback_tcp_mbps": "loopback TCP, one connection",
}


def oriented_ratio(figure: Figure, moorage: float | None, reference: float | None) -> float | None:
    """moorage / reference for rates, reference / moorage for latencies; None if either is missing."""
    if moorage is None or reference is None or moorage <= 0 or reference <= 0:
        return None
    return moorage / reference if figure.higher_is_better else reference / moorage


def _number(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def _markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[column]) for row in (header, *rows)) for column in range(len(header))]
    lines = [
        "| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + " |"
        for row in (header, *rows)
    ]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)


def _figure_of(results: Mapping[str, Any], target: str, key: str) -> float | None:
    value = results.get("targets", {}).get(target, {}).get("figures", {}).get(key)
    return float(value) if value is not None else None


def render_table(results: Mapping[str, Any]) -> str:
    """The results as a markdown table: each figure for every target run, the ratio and its target."""
    sizes = WorkloadSizes(**results["sizes"])
    targets = [name for name in ("moorage", "reference") if name in results["targets"]]
    has_null = "null" in results["targets"]
    limits = results["limits"]
    floor = LARGE_BLOB_SHARE_OF_LIMIT * min(limits.values())
    header = ["figure", "unit", *targets]
    if targets == ["moorage", "reference"]:
        header += ["moorage/ref", "target", "met"]
    if has_null:
        header.append("generator ceiling (null server)")
    rows: list[list[str]] = []
    for figure in FIGURES:
        values = {target: _figure_of(results, target, figure.key) for target in targets}
        row = [figure.describe(sizes), figure.unit, *(_number(values[target]) for target in targets)]
        if targets == ["moorage", "reference"]:
            ratio = oriented_ratio(figure, values["moorage"], values["reference"])
            goal = "ratio >= 1.0" + ("" if figure.higher_is_better else " (inverted)")
            met = ratio is not None and ratio >= 1.0
            if figure.judged_against_limits:
                goal += f", >= {floor:,.0f}"
                met = met and (values["moorage"] or 0) >= floor
            row += [_number(ratio), goal, "yes" if met else "NO"]
        if has_null:
            row.append(_number(_figure_of(results, "null", figure.key)))
        rows.append(row)
    limit_rows = [[label, "MB/s", _number(limits[key])] for key, label in LIMIT_LABELS.items()]
    limit_rows.append([f"large-blob target: {LARGE_BLOB_SHARE_OF_LIMIT:.0%} of the lowest", "MB/s", _number(floor)])
    return (
        _markdown(header, rows)
        + "\n\nMachine limits, same run:\n\n"
        + _markdown(["limit", "unit", "value"], limit_rows)
        + "\n\n"
        + render_notes(results)
    )


def render_notes(results: Mapping[str, Any]) -> str:
    """How each target was driven: version, upload protocol, pages per listing, load when it started."""
    preamble = (
        "Ratios are moorage/reference for rates and reference/moorage for latencies (inverted), so "
        ">= 1.0 always means moorage is at least as good. "
        f"Host: {results['host'].get('cpus')} CPUs ({results['host'].get('cpu_model')}), "
        f"large blobs via {results.get('large_client', 'socket')}."
    )
    lines: list[str] = []
    for target in ("moorage", "reference", "null"):
        outcome = results["targets"].get(target)
        if outcome is None:
            continue
        notes = outcome.get("notes") or {}
        parts = [str(outcome.get("version", ""))]
        if "authentication" in notes:
            parts.append(f"authentication: {notes['authentication']}")
        if "monolithic_single_post" in notes:
            parts.append(
                "monolithic push by "
                + ("POST ?digest=" if notes["monolithic_single_post"] else "POST then PUT (no single-POST upload)")
            )
        for name, what in (("tags_list", "tags"), ("catalog", "catalog")):
            if f"{name}_pages_per_walk" in notes:
                parts.append(
                    f"{what}: {notes[f'{name}_pages_per_whole_listing']} page(s) whole, "
                    f"{notes[f'{name}_pages_per_walk']} page(s) at n={results['sizes']['page_size']}"
                )
        load = outcome.get("load_average_at_start")
        if load is not None:
            parts.append(
                f"load average at start {load:.2f}"
                + (" (machine busy: figures disturbed)" if load > BUSY_LOAD_AVERAGE else "")
            )
        lines.append(f"- {target}: " + "; ".join(part for part in parts if part))
    return preamble + "\n\n" + "\n".join(lines)


def render_errors(results: Mapping[str, Any]) -> str:
    """One line per target or workload that failed, empty if none did."""
    lines = []
    for target, outcome in results["targets"].items():
        if outcome.get("error"):
            lines.append(f"{target}: {outcome['error']}")
        for workload, error in (outcome.get("errors") or {}).items():
            lines.append(f"{target}: {workload}: {error}")
    return "\n".join(lines)


def render_comparison(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    """Each figure of each target present in both runs: before, after, and the oriented change."""
    rows: list[list[str]] = []
    sizes = WorkloadSizes(**after["sizes"])
    for target in ("moorage", "reference", "null"):
        if target not in before["targets"] or target not in after["targets"]:
            continue
        for figure in FIGURES:
            old, new = _figure_of(before, target, figure.key), _figure_of(after, target, figure.key)
            change = oriented_ratio(figure, new, old)
            rows.append([target, figure.describe(sizes), figure.unit, _number(old), _number(new), _number(change)])
    for key, label in LIMIT_LABELS.items():
        old_limit, new_limit = before["limits"].get(key), after["limits"].get(key)
        rows.append(
            [
                "machine",
                label,
                "MB/s",
                _number(old_limit),
                _number(new_limit),
                _number(new_limit / old_limit if old_limit and new_limit else None),
            ]
        )
    header = ["target", "figure", "unit", "before", "after", "after vs before (>1 = better)"]
    note = ""
    if before.get("sizes") != after.get("sizes"):
        note = "\n\nThe two runs used different workload sizes (one is --quick?): compare with care."
    return _markdown(header, rows) + note


def write_results(path: Path, results: Mapping[str, Any]) -> None:
    """Write the results as indented JSON."""
    path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


def read_results(path: Path) -> dict[str, Any]:
    """Read results written by ``write_results``, refusing another schema."""
    results: dict[str, Any] = json.loads(path.read_text())
    if results.get("schema") != RESULTS_SCHEMA:
        raise ValueError(f"{path}: not a registry_bench results file of schema {RESULTS_SCHEMA}")
    return results


def add_results_arguments(parser: argparse.ArgumentParser) -> None:
    """``--json OUT`` (write the results) and ``--results IN`` (print earlier results, run nothing)."""
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--results", type=Path, help="do not run: print these results")


def run_or_load(arguments: argparse.Namespace, run: Callable[[argparse.Namespace], dict[str, Any]]) -> dict[str, Any]:
    """The results of ``--results`` if given, else of a run; written to ``--json`` when asked."""
    results = json.loads(arguments.results.read_text()) if arguments.results else run(arguments)
    if arguments.json:
        arguments.json.parent.mkdir(parents=True, exist_ok=True)
        arguments.json.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return results


def server_variant(text: str) -> tuple[str, dict[str, str]]:
    """A ``--variant NAME:ENV=VALUE,...`` argument: a named moorage started with those settings."""
    name, _, settings = text.partition(":")
    return name, dict(item.split("=", 1) for item in settings.split(",") if item)


def load_line(loads: Sequence[float]) -> str:
    """The line that closes a report of rounds: the spread of the load average while they ran."""
    return f"\nLoad average during the rounds: {min(loads):.1f}-{max(loads):.1f}."
