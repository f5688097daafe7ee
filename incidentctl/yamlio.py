"""YAML for front matter: a strict loader (no duplicate keys) and the dumper we write with.

Imported only when a front matter must be parsed or written: `log` on a file whose
front matter is already known to be valid never pays for PyYAML's import.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import yaml

from .errors import InvalidIncident
from .timeutil import format_ts

# libyaml is ~13x faster on front matter (FIELD-NOTES.md); pure Python if it is absent.
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BaseDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key: object, line: int):
        super().__init__(f"duplicate key {key!r}")
        self.key = key
        self.line = line


class StrictLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """SafeLoader that refuses duplicate keys instead of keeping the last one."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    result: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise _DuplicateKey(key, key_node.start_mark.line) from None
        if key in result:
            raise _DuplicateKey(key, key_node.start_mark.line)
        result[key] = loader.construct_object(value_node, deep=True)
    return result


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class _Dumper(_BaseDumper):  # type: ignore[misc,valid-type]
    """Writes timestamps as plain RFC 3339 UTC scalars (`2026-11-26T02:47:00Z`)."""


def _represent_datetime(dumper: yaml.SafeDumper, value: datetime) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:timestamp", format_ts(value))


def _represent_enum(dumper: yaml.SafeDumper, value: Enum) -> yaml.ScalarNode:
    return dumper.represent_str(str(value.value))


_Dumper.add_representer(datetime, _represent_datetime)
_Dumper.add_multi_representer(Enum, _represent_enum)


def load_yaml(text: str, *, path: str, first_line: int) -> Any:
    """Parse YAML strictly; errors name the file and line."""
    try:
        return yaml.load(text, Loader=StrictLoader)  # noqa: S506 - StrictLoader is a SafeLoader
    except _DuplicateKey as exc:
        raise InvalidIncident(
            f"duplicate key {exc.key!r} in the front matter; keep only one",
            path=path,
            line=first_line + exc.line,
            rule="duplicate-key",
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = first_line + mark.line if mark is not None else None
        problem = (exc.problem or "invalid YAML").strip()
        raise InvalidIncident(
            f"invalid YAML in the front matter: {problem}", path=path, line=line, rule="yaml"
        ) from None
    except yaml.YAMLError as exc:
        raise InvalidIncident(
            f"invalid YAML in the front matter: {exc}", path=path, rule="yaml"
        ) from None


def dump_field(key: str, value: Any) -> list[str]:
    """The YAML lines for one top-level key, as this tool writes them."""
    if isinstance(value, (list, dict)) and not value:
        return [f"{key}: {'[]' if isinstance(value, list) else '{}'}\n"]
    text = yaml.dump(
        {key: value},
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=4096,
    )
    return text.splitlines(keepends=True)


def dump_front_matter(data: dict[str, Any]) -> str:
    return "".join(line for key, value in data.items() for line in dump_field(key, value))
