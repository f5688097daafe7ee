"""`site build`: the static site and the public status page."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
