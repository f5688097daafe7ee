"""History: `stats`, `report`, `export`."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
