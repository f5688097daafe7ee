"""`check --format github`: workflow-command annotations and the job summary.

Incident files in a pull request are untrusted: every value that reaches the log is
escaped (annotations) or fenced off with `::stop-commands::` so it cannot issue
workflow commands of its own (FIELD-NOTES.md, GitHub Actions).
"""

from __future__ import annotations

import html
import secrets
from collections.abc import Callable
from pathlib import Path

from ..incident.rules import ERROR, WARNING
from ..safetext import safe
from .check import Report

MAX_PER_LEVEL = 10  # GitHub shows at most 10 errors and 10 warnings per step
SUMMARY_LIMIT = 1024 * 1024  # bytes GitHub accepts in $GITHUB_STEP_SUMMARY per step


def escape_data(value: str) -> str:
    """A workflow command's message: `%`, CR and LF as GitHub wants them, the rest safe."""
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return safe(value)


def escape_property(value: str) -> str:
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def annotation_lines(report: Report) -> list[str]:
    """`::error …::` / `::warning …::` lines, at most 10 per level, then the notices."""
    lines = [
        f"::notice title=incidentctl policy::{escape_data(notice)}" for notice in report.notices
    ]
    hidden = 0
    for level in (ERROR, WARNING):
        problems = [p for p in report.problems if p.level == level]
        for problem in problems[:MAX_PER_LEVEL]:
            props = ",".join(
                [
                    f"file={escape_property(problem.path)}",
                    f"line={problem.line}",
                    f"title={escape_property('incidentctl ' + problem.rule)}",
                ]
            )
            lines.append(f"::{level} {props}::{escape_data(problem.message)}")
        hidden += max(0, len(problems) - MAX_PER_LEVEL)
    if hidden:
        lines.append(
            f"::notice title=incidentctl check::{hidden} more problem"
            f"{'s' if hidden != 1 else ''} not shown as annotations; see the job summary"
        )
    return lines


def log_lines(report: Report, token: str | None = None) -> list[str]:
    """The plain report for the log, fenced so its text cannot run workflow commands."""
    token = token or secrets.token_hex(16)
    body = [p.text() for p in report.problems] or ["no problems"]
    if report.policy is not None:
        body.append(report.policy.text())
    return [f"::stop-commands::{token}", *body, f"::{token}::"]


def _cell(value: str) -> str:
    return html.escape(safe(" ".join(value.split())), quote=False).replace("|", "&#124;")


def summary_markdown(report: Report, limit: int = SUMMARY_LIMIT) -> str:
    """The full report as GitHub Markdown, cut to stay under `limit` bytes."""
    errors = sum(p.level == ERROR for p in report.problems)
    warnings = sum(p.level == WARNING for p in report.problems)
    verdict = "passed" if report.ok else "failed"
    head = [
        f"## incidentctl check {verdict}",
        "",
        f"{len(report.checked)} incident file(s) checked: {errors} error(s), "
        f"{warnings} warning(s).",
        "",
    ]
    if report.policy is not None:
        head += [_cell(report.policy.text()).replace("policy:", "Policy:", 1) + ".", ""]
    head += [f"> **Notice:** {_cell(notice)}" for notice in report.notices]
    if report.notices:
        head.append("")
    if not report.problems:
        return "\n".join(head) + "\n"
    head += ["| File | Line | Rule | Level | Problem |", "| --- | --- | --- | --- | --- |"]
    parts = ["\n".join(head) + "\n"]
    size = len(parts[0].encode())  # kept as a running count: re-encoding is quadratic
    for index, p in enumerate(report.problems):
        row = (
            f"| `{_cell(p.path)}` | {p.line} | {_cell(p.rule)} | {p.level} | {_cell(p.message)} |\n"
        )
        rest = len(report.problems) - index
        tail = f"\n_{rest} more problem(s) not shown: the summary is limited to 1 MiB._\n"
        row_size = len(row.encode())
        if size + row_size + len(tail.encode()) > limit:
            return "".join(parts) + tail
        parts.append(row)
        size += row_size
    return "".join(parts)


def emit(report: Report, echo: Callable[[str], None], summary_path: str | None) -> None:
    """Print annotations and the fenced log; append the summary if GitHub gave a file."""
    for line in annotation_lines(report):
        echo(line)
    for line in log_lines(report):
        echo(line)
    if summary_path:
        path = Path(summary_path)
        used = path.stat().st_size if path.exists() else 0
        with path.open("a", encoding="utf-8") as handle:
            handle.write(summary_markdown(report, max(0, SUMMARY_LIMIT - used)))
