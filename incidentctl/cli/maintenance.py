"""Maintenance windows: `maintenance add`, `list`, `cancel`."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
