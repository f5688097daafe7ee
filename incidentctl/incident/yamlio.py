"""YAML for front matter: a strict loader (plain YAML only) and the dumper we write with.

Imported only when a front matter must be parsed or written: `log` on a file whose
front matter is already known to be valid never pays for PyYAML's import.

A front matter is untrusted input (anyone who opens a pull request writes one), and
it needs only plain keys, scalars, lists and mappings. The loader refuses, as the
parser's events arrive and before any node is built, the YAML features that make
loading cost more than the text: anchors and aliases (nested ones, the "billion
laughs", expand a few lines into billions of values), merge keys (`<<`), and every
explicit tag (`!!python/…`, `!foo`, even `!!str`). Nesting and the number of values
are bounded too. A date or time that cannot exist (`2026-02-30`, `24:00:00`, a
year-1 time whose offset leaves the calendar in UTC) is an error on its line.
"""

from __future__ import annotations

from datetime import datetime, timezone
from enum import Enum
from typing import Any

import yaml

from ..errors import InvalidIncident
from ..safetext import clip
from .lines import split_lines
from .timeutil import format_ts

# libyaml is ~13x faster on front matter (FIELD-NOTES.md); pure Python if it is absent.
# Its parser feeds PyYAML's Python composer (StrictLoader), which costs ~10% over
# libyaml's own composer and sees every event before it becomes a node.
if yaml.__with_libyaml__:
    from yaml._yaml import CParser

    class _BaseLoader(
        yaml.composer.Composer,  # before CParser: its composer methods win
        CParser,
        yaml.constructor.SafeConstructor,
        yaml.resolver.Resolver,
    ):
        def __init__(self, stream: str):
            CParser.__init__(self, stream)
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)

else:  # pragma: no cover - PyYAML built without libyaml
    _BaseLoader = yaml.SafeLoader  # type: ignore[misc,assignment]
_BaseDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

# A front matter nests two or three levels (action_items: - id: …) and holds a few
# hundred values at most; these bounds leave ample room and keep every command's
# time and memory small whatever a file holds (README: "Limits").
MAX_DEPTH = 32
MAX_NODES = 10_000


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key: object, line: int):
        super().__init__(f"duplicate key {key!r}")
        self.key = key
        self.line = line


class _Refused(yaml.YAMLError):
    """A YAML feature (or a value) the front matter may not use, at a 0-based line."""

    def __init__(self, message: str, line: int, rule: str):
        super().__init__(message)
        self.message = message
        self.line = line
        self.rule = rule


def _tag(tag: str) -> str:
    return "!!" + tag[18:] if tag.startswith("tag:yaml.org,2002:") else tag


class StrictLoader(_BaseLoader):
    """A SafeLoader for plain YAML: no duplicate keys, anchors, aliases, merge keys or tags.

    The nodes are built by PyYAML's Python composer, which this class extends to look
    at each event before it becomes a node (libyaml's own composer would expand aliases
    unseen).
    """

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event: Any = self.peek_event()
        line = event.start_mark.line
        if isinstance(event, yaml.AliasEvent):
            raise _Refused(
                f"the alias `*{clip(str(event.anchor))}`: the front matter takes no YAML "
                "anchors or aliases; write the value out in full",
                line,
                "yaml-plain",
            )
        if event.anchor is not None:
            raise _Refused(
                f"the anchor `&{clip(event.anchor)}`: the front matter takes no YAML anchors or "
                "aliases; remove it",
                line,
                "yaml-plain",
            )
        if event.tag is not None:
            raise _Refused(
                f"the tag `{clip(_tag(event.tag))}`: the front matter takes no YAML tags; remove "
                "it (quote the value to keep it text)",
                line,
                "yaml-plain",
            )
        if isinstance(event, yaml.ScalarEvent) and event.value == "<<" and event.implicit[0]:
            raise _Refused(
                "`<<` (a YAML merge key): the front matter takes no merge keys; write the "
                "keys out (quote '<<' if it is text)",
                line,
                "yaml-plain",
            )
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise _Refused(
                f"the front matter holds more than {MAX_NODES} values; keep long text in the body",
                line,
                "yaml-plain",
            )
        nested = isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent))
        if nested and self._depth >= MAX_DEPTH:
            raise _Refused(
                f"the front matter nests deeper than {MAX_DEPTH} levels; flatten it",
                line,
                "yaml-plain",
            )
        self._depth += nested
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= nested
        return node

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, OverflowError) as exc:  # `x: 1111…` (5,000 digits), say
            shown = clip(str(node.value), 40)
            reason = "too many digits" if node.tag.endswith(":int") else str(exc)
            raise _Refused(
                f"the value {shown} cannot be read ({reason}); correct it",
                node.start_mark.line,
                "yaml",
            ) from None


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    result: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, (list, dict)):  # `? [a, b]`: a complex key
            raise _Refused(
                "a key must be a plain name, not a list or a mapping; rename it",
                key_node.start_mark.line,
                "yaml-plain",
            )
        if key in result:
            raise _DuplicateKey(key, key_node.start_mark.line)
        result[key] = loader.construct_object(value_node, deep=True)
    return result


def _construct_timestamp(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    """A YAML date or timestamp that exists, and is one in UTC too."""
    try:
        value = loader.construct_yaml_timestamp(node)
        if isinstance(value, datetime) and value.tzinfo is not None:
            value.astimezone(timezone.utc)  # year 1 at +01:00 has no UTC time
    except (ValueError, OverflowError) as exc:
        reason = "out of range in UTC" if isinstance(exc, OverflowError) else str(exc)
        raise _Refused(
            f"{clip(node.value)} is not a real date or time ({reason}); correct it",
            node.start_mark.line,
            "invalid-date",
        ) from None
    return value


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


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
        loader = StrictLoader(text)  # what yaml.load does, with our (safe) loader
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except _Refused as exc:
        raise InvalidIncident(
            exc.message, path=path, line=first_line + exc.line, rule=exc.rule
        ) from None
    except UnicodeEncodeError:  # undecodable bytes, held as surrogates (the merge driver)
        raise InvalidIncident(
            "the front matter is not UTF-8 text; save the file as UTF-8",
            path=path,
            line=first_line,
            rule="encoding",
        ) from None
    except _DuplicateKey as exc:
        raise InvalidIncident(
            f"duplicate key {clip(repr(exc.key))} in the front matter; keep only one",
            path=path,
            line=first_line + exc.line,
            rule="duplicate-key",
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = first_line + mark.line if mark is not None else None
        problem = clip((exc.problem or "invalid YAML").strip(), 200)
        raise InvalidIncident(
            f"invalid YAML in the front matter: {problem}", path=path, line=line, rule="yaml"
        ) from None
    except yaml.YAMLError as exc:
        raise InvalidIncident(
            f"invalid YAML in the front matter: {clip(str(exc), 200)}", path=path, rule="yaml"
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
    return split_lines(text)


def dump_front_matter(data: dict[str, Any]) -> str:
    return "".join(line for key, value in data.items() for line in dump_field(key, value))
