"""An incident's front matter as the JSON that `show --json` prints and caches keep."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from .file import normalise
from .timeutil import format_ts

if TYPE_CHECKING:
    from .file import IncidentFile
    from .model import Incident


def front_matter_json(file: IncidentFile, incident: Incident) -> dict[str, Any]:
    """Every field of the model (timestamps as `format_ts` writes them), then a team's
    own `x-` keys as the file holds them."""
    data: dict[str, Any] = incident.model_dump(mode="json")
    for key in data:
        value = getattr(incident, key, None)
        if isinstance(value, datetime):
            data[key] = format_ts(value)
    for key, value in file.data.items():
        data.setdefault(str(key), normalise(value))
    return data
