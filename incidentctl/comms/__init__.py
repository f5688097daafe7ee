"""Communications: the matrix and rules, the outbox, the channels, the follow-up.

`wanted` is here, with no import, so the click-free fast path (fastpath.py) can ask
whether anything is to be told without loading the rest.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from typing import Any

SECTIONS = ("channels", "commands", "rules")  # any of them: the rules may do something


def wanted(sections: dict[str, Any]) -> bool:
    """Whether anything could be told or run: channels, commands or rules configured."""
    return any(sections.get(name) for name in SECTIONS)
