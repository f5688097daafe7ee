"""What commands print, in a form shared by the click CLI and the `log` fast path."""

from __future__ import annotations

import os
import sys

from .safetext import json_safe, safe

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from typing import Any

    from .repo.base import Change


def colour_enabled() -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (no-color.org)."""
    return "NO_COLOR" not in os.environ and sys.stdout.isatty()


def bold(text: str) -> str:
    """`text` in bold on a terminal; escaped (safetext.safe) either way."""
    text = safe(text)
    return f"\x1b[1m{text}\x1b[0m" if colour_enabled() else text


def paint(text: str, *, fg: str | None = None, bold: bool = False) -> str:
    """`click.style(text, fg=fg, bold=bold)` (its codes, in its order) on a terminal,
    without importing click; escaped (safetext.safe) either way."""
    text = safe(text)
    if not colour_enabled():
        return text
    codes = f"\x1b[{_COLOURS[fg]}m" if fg else ""
    codes += "\x1b[1m" if bold else ""
    return f"{codes}{text}\x1b[0m"


_COLOURS = {"red": 31, "green": 32, "yellow": 33, "blue": 34}


def to_json(data: Any) -> str:
    """One JSON document; control and bidi characters inside strings as `\\uXXXX`."""
    import json

    if isinstance(data, list) and all(isinstance(item, dict) for item in data):
        # One element per line: readable, and each encoded by json's C encoder (the
        # indenting one is pure Python, about 250 ms for 10,000 rows of `list`).
        rows = ",\n".join("  " + json.dumps(item, ensure_ascii=False) for item in data)
        return json_safe(f"[\n{rows}\n]" if data else "[]")
    return json_safe(json.dumps(data, indent=2, ensure_ascii=False))


def commit_note(sha: str | None, pushed: str | None = None) -> str:
    note = f"commit {safe(sha[:10])}" if sha else "not committed (--no-commit)"
    return f"{note}, pushed to {safe(pushed)}" if pushed else note


def change_report(change: Change, as_json: bool = False) -> str:
    """The one line (or JSON document) a changing command prints."""
    if as_json:
        return to_json(
            {
                "id": change.id,
                "path": change.path,
                "commit": change.commit,
                "change": change.subject,
                **change.extra,
            }
        )
    note = commit_note(change.commit, change.extra.get("pushed"))
    line = f"{bold(change.id)}: {safe(change.subject)} ({note})"
    carried = carried_note(change)
    return f"{carried}\n{line}" if carried else line


def carried_note(change: Change) -> str | None:
    """The line that says a change found uncommitted in the file got its own commit."""
    carried = change.extra.get("carried")
    if not carried:
        return None
    return (
        f"{bold(change.id)}: the file held uncommitted changes ({safe(carried['changes'])}); "
        f"committed them first, on their own (commit {safe(carried['commit'][:10])})"
    )


def opened_report(change: Change, response: str, update_every: str, as_json: bool) -> str:
    """What `open` prints: the new incident, where it is, what its severity asks of
    responders (`response`, `update_every`: its policy), and the commit."""
    extra = change.extra
    if as_json:
        return to_json({"id": change.id, "path": change.path, "commit": change.commit, **extra})
    severity = paint(extra["severity"], fg="red", bold=True)
    return "\n".join(
        (
            f"Opened {paint(change.id, bold=True)} ({severity}, {safe(extra['status'])})",
            f"  {safe(change.path)}",
            f"  Commander: {safe(extra['commander'])} · respond {safe(response)} · "
            f"update every {safe(update_every)}",
            f"  {commit_note(change.commit, extra.get('pushed'))}",
        )
    )
