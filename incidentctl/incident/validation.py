"""What may go into an incident file: user text checked, the front matter as a model."""

from __future__ import annotations

from ..errors import InvalidIncident, InvalidInput
from ..safetext import clip, describe, first_unsafe, first_unsafe_in, unsafe_lines

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from typing import Any

    from .file import IncidentFile
    from .model import Incident


TEXT_MAX = 10_000


def clean_text(text: str, what: str, *, max_len: int = TEXT_MAX, one_line: bool = False) -> str:
    """Check user-given text: valid UTF-8, no control characters, not empty, not huge."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{what} is not valid UTF-8 text; re-type it") from None
    text = text.replace("\r\n", "\n").strip()
    if one_line and "\n" in text:
        raise InvalidInput(f"{what} must be a single line")
    # Controls but tab and newline (ESC starts terminal escape sequences; U+0085 and
    # U+2028/U+2029 break lines for some readers and not for others), and invisible
    # format characters (bidi overrides, zero-width spaces): safetext.
    char = first_unsafe(text, "\t\n")
    if char is not None:
        raise InvalidInput(f"{what} contains {describe(char)}; remove it")
    if not text:
        raise InvalidInput(f"{what} is empty")
    if len(text) > max_len:
        raise InvalidInput(f"{what} is {len(text)} characters long; the limit is {max_len}")
    return text


def refuse_hidden_characters(file: IncidentFile) -> None:
    """A file edited by hand keeps to what the command line allows (safetext)."""
    places = [(line, "the line holds", char) for line, char in unsafe_lines(file.lines)]
    for key, value in file.data.items():
        char = first_unsafe_in([key, value])
        if char is not None:
            holder = f"the key `{key}`" if first_unsafe_in(key) else f"the value of `{key}`"
            places.append((file.key_line(str(key)) or 2, f"{holder} holds", char))
    if places:
        line, where, char = places[0]
        raise InvalidIncident(
            f"{where} {describe(char)}; remove it",
            path=file.path,
            line=line,
            rule="control-character",
        )


def validate(file: IncidentFile) -> Incident:
    """The front matter as a model; schema errors name the file, line and key."""
    from pydantic import ValidationError

    from .model import Incident

    try:
        return Incident.model_validate(file.data)
    except ValidationError as exc:
        raise validation_error(exc, file) from None


def validation_error(exc: Any, file: IncidentFile) -> InvalidIncident:
    message, key = describe_validation_error(exc.errors()[0])
    return InvalidIncident(message, path=file.path, line=file.key_line(key) or 2, rule="schema")


def describe_validation_error(error: Any) -> tuple[str, str]:
    """One pydantic error as (a message naming the key, the top-level key)."""
    loc = [str(p) for p in error.get("loc", ())]
    key = loc[0] if loc else ""
    where = ".".join(loc) or "front matter"
    message = error.get("msg", "invalid value")
    kind = error.get("type", "")
    if kind == "timezone_aware":
        message = "has no UTC offset; write it as e.g. 2026-11-26T14:05:00Z"
    elif kind == "extra_forbidden":
        message = "is not a known key; fix the spelling, or prefix custom keys with x-"
    elif kind == "missing":
        message = "is missing; add it"
    else:
        value = error.get("input")
        shown = clip(repr(value)) if not isinstance(value, (dict, list)) else "this value"
        message = f"{shown}: {message}"
    return f"`{where}` {message}", key
