"""`open TITLE` without Jinja2, pydantic or PyYAML, when the file it writes is known
to be byte for byte what lifecycle.new writes.

lifecycle.new renders templates/incident.md.j2 (and the checklist it includes) with
Jinja2, checks the front matter on the model, and writes it with PyYAML. For the
common case all three are known in advance:

- the body: while the repository overrides neither incident.md.j2 nor the type's
  checklist (render.environment looks in its templates/ folder first), the packaged
  incident.md.j2 is the text below (it is compared at run time) and the checklist
  holds no Jinja syntax, rendering is string concatenation, done here;
- the front matter: while every value is one plainyaml writes plain (a title,
  service or commander PyYAML would quote is not), its lines are plainyaml's, and the
  values are valid by construction: each is checked by the function lifecycle.new
  uses (opening.py), or is a constant, a timestamp or the new ID;
- the cache of front matters gets the front matter as `show --json` prints it, so the
  next `status` needs no model either.

Anything else goes the full way, lifecycle.new with the same arguments and the same
`now`, before anything is written: a repository's own template, a checklist with
Jinja syntax in it, a value that needs quotes, an ID that is not plain, a default
commander (on call, or the git author) the model would refuse. The lock, the
refusals, the stale-temp removal, the atomic write, the known-good list, the commit
(and the unlink of a file whose commit failed) are lifecycle.new's own.
"""

from __future__ import annotations

import os

from ..incident.file import IncidentFile
from ..incident.plainyaml import _plain_lines
from ..incident.storage import remove_stale_temps, write_atomic
from ..incident.timeline import Entry, format_entry
from ..incident.timeutil import format_ts, utcnow
from .base import Change, RepoBase
from .opening import opening

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime
    from typing import Any

    from .opening import Opening

_TODO = (
    "_TODO: what is happening, who is affected, since when. Keep this current: "
    "it is what people read first._\n"
)
# templates/incident.md.j2 as shipped: what `_write` reproduces. Another text there
# (an edited install) sends `open` the full way.
INCIDENT_TEMPLATE = (
    """\
{#- The body of a new incident. Data only: every value below is incident text, never
    template code. Override this file by putting one of the same name in templates/. -#}
# {{ incident.title }}

## Summary

{% if summary %}
{{ summary }}
{% else %}
"""
    + _TODO
    + """{% endif %}

## Timeline

{% for line in timeline %}
{{ line }}
{% endfor %}

{% include "checklist-" ~ incident.type ~ ".md.j2" %}
"""
)
# A text Jinja2 renders as it is (with the environment of render.py) holds no
# expression, statement or comment. (It makes every line ending `\n`, as reading
# a file in text mode does.)
_JINJA = ("{{", "{%", "{#")
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


class _FullWay(Exception):
    """This incident needs lifecycle.new (raised before anything is written)."""


def open_incident(
    repo: RepoBase,
    title: str,
    *,
    severity: str | None = None,
    type: str | None = None,
    environment: str | None = None,
    services: Iterable[str] = (),
    commander: str | None = None,
    summary: str | None = None,
    now: datetime | None = None,
    commit: bool = True,
) -> Change:
    """lifecycle.new for `open TITLE` and its plain options."""
    from .lifecycle import new as full_way

    now = now or utcnow()
    services = list(services)
    given = opening(
        repo,
        title,
        severity=severity,
        type=type,
        environment=environment,
        services=services,
        commander=commander,
        summary=summary,
        now=now,
    )
    with repo.git.lock():
        try:
            change = _write(repo, given, now, commit)
        except _FullWay:
            change = None
    if change is None:  # nothing written
        return full_way(
            repo,
            title,
            severity=severity,
            type=type,
            environment=environment,
            services=services,
            commander=commander,
            summary=summary,
            now=now,
            commit=commit,
        )
    return repo.pushed(change)


def _write(repo: RepoBase, given: Opening, now: datetime, commit: bool) -> Change:
    """lifecycle.new's work under the lock; _FullWay before anything is written."""
    from .opening import open_subject, opened_text, remember_front, slugify, summary_markdown

    kind, sev = given.type, given.severity
    checklist = _checklist(repo.git.top, kind)
    if commit:
        repo.git.refuse_commit()  # before anything is written
    today = now.strftime("%Y%m%d")
    ident = repo.new_id(now, (i for i, *_ in repo.names(containing=today)))
    if len(ident) > 64 or not _ID_CHARS.issuperset(ident):
        raise _FullWay  # the model refuses it: lifecycle.new says how
    path = os.path.join(
        repo.incidents_top, now.strftime("%Y"), f"{ident}-{slugify(given.title)}.md"
    )
    rel = repo.rel(path)
    commander = given.commander
    if not 0 < len(commander) <= 200:
        raise _FullWay  # an on-call name or git author the model refuses
    front: dict[str, Any] = {
        "id": ident,
        "title": given.title,
        "status": "triage",
        "severity": sev,
        "type": kind,
        "environment": given.environment,
        "services": given.services,
        "commander": commander,
        "roles": {},
        "visibility": "restricted" if kind == "security" else "internal",
        "detected_at": None,
        "started_at": None,
        "opened_at": now,
        "acknowledged_at": None,
        "mitigated_at": None,
        "resolved_at": None,
        "closed_at": None,
        "action_items": [],
    }
    lines = []
    for key, value in front.items():
        written = _plain_lines(key, value)
        if written is None:
            raise _FullWay  # PyYAML writes it (quoted, say): lifecycle.new does
        lines += written
    first = opened_text(sev, kind, front["environment"], given.services, commander)
    entry = Entry(now, given.author, "opened", first)
    summary = summary_markdown(given.summary)
    body = "".join(
        (
            f"# {given.title}\n\n## Summary\n\n",
            f"{summary}\n" if summary else _TODO,
            "\n## Timeline\n\n",
            *(line.rstrip("\n") + "\n" for line in format_entry(entry)),
            "\n",
            checklist,
        )
    )
    # render.compose: python-frontmatter's template, stripped, and a final newline.
    meta, content = "".join(lines).rstrip("\n"), body.strip("\n")
    text = f"---\n{meta}\n---\n\n{content}\n".strip() + "\n"
    stamp = format_ts(now)
    opened = _parsed_time(stamp)
    file = IncidentFile(text, rel, facts=(ident, opened))  # what we write must parse
    remove_stale_temps(os.path.dirname(path), repo.git.top)  # left by a command killed mid-write
    write_atomic(path, text, root=repo.git.top, shown=rel)
    repo.known.remember(file.front_matter_text, ident, opened)
    # As `show --json` prints it: every field of the model, in its order (model.py;
    # jsonview.front_matter_json), timestamps as format_ts writes them.
    shown = {**front, "opened_at": stamp, "source": None, "war_room": None}
    shown.update(personal_data=False, regulator_notified_at=None)
    remember_front(repo, text, shown)
    sha = None
    if commit:
        try:
            sha = repo.git.commit_only(
                path,
                f"incident({ident}): {open_subject(sev, given.title)}",
                {"Incident": ident},
                created=True,
            )
        except BaseException:
            try:  # noqa: SIM105
                os.unlink(path)
            except FileNotFoundError:
                pass
            raise
    extra = {"status": "triage", "severity": sev, "commander": commander}
    return Change(ident, rel, sha, "open", extra)


def _checklist(top: str, kind: str) -> str:
    """The checklist `incident.md.j2` includes for `kind`, while rendering it (and
    incident.md.j2) is known to give back its text; else _FullWay."""
    names = ("incident.md.j2", f"checklist-{kind}.md.j2")
    if any(os.path.lexists(os.path.join(top, "templates", name)) for name in names):
        raise _FullWay  # the repository's own (render.environment looks there first)
    folder = _packaged_templates()
    try:
        with open(os.path.join(folder, names[0]), encoding="utf-8") as handle:
            if handle.read() != INCIDENT_TEMPLATE:
                raise _FullWay
        with open(os.path.join(folder, names[1]), encoding="utf-8") as handle:
            checklist = handle.read()
    except (OSError, UnicodeDecodeError):
        raise _FullWay from None  # Jinja2 says what is wrong
    if any(mark in checklist for mark in _JINJA):
        raise _FullWay
    return checklist


def _packaged_templates() -> str:
    """render.packaged_templates, without pathlib."""
    package = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))  # incidentctl/
    shipped = os.path.join(package, "templates")
    return (
        shipped if os.path.isdir(shipped) else os.path.join(os.path.dirname(package), "templates")
    )


def _parsed_time(stamp: str) -> datetime:
    """A timestamp as the front matter's parser gives it back (for the known-good list)."""
    from ..incident.plainyaml import python_value

    value: datetime = python_value("opened_at", stamp)
    return value
