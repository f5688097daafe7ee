"""Post-mortem sections and action items: adding, completing, linking and listing them."""

from __future__ import annotations

from ..errors import NotFound, NothingToDo
from ..incident.file import IncidentFile
from ..incident.timeline import Entry
from ..incident.timeutil import utcnow
from ..incident.validation import clean_text, validate
from .base import Change, RepoBase, one_line

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from datetime import date, datetime
    from typing import Any

    from .rows import ActionRow


def postmortem(repo: RepoBase, ref: str, *, commit: bool = True) -> Change:
    """Add the post-mortem sections the incident lacks, prefilled from it."""
    from ..incident.postmortem import add_sections

    added: list[str] = []

    def mutate(file: IncidentFile) -> str:
        incident = validate(file)
        before = file.text
        added.extend(add_sections(file, incident, repo.root))
        if file.text == before:
            raise NothingToDo("the post-mortem sections are all there; nothing changed")
        what = ", ".join(added) if added else "refresh figures and action items"
        return "postmortem: " + one_line(what, 60)

    change = repo.change(ref, mutate, commit=commit, command="postmortem")
    return Change(
        change.id, change.path, change.commit, change.subject, {**change.extra, "added": added}
    )


def add_action(
    repo: RepoBase,
    ref: str,
    title: str,
    *,
    owner: str,
    due: date,
    now: datetime | None = None,
    commit: bool = True,
) -> Change:
    """Add an action item (AI-N, the next free number) and note it in the timeline."""
    from ..incident.model import ActionItem

    title = clean_text(title, "the action item title", max_len=200, one_line=True)
    owner = clean_text(owner, "the owner", max_len=200, one_line=True)
    now = now or utcnow()
    author = repo.author()
    new_id: list[str] = []

    def mutate(file: IncidentFile) -> str:
        incident = validate(file)
        ident = next_action_id(item.id for item in incident.action_items)
        item = ActionItem(id=ident, title=title, owner=owner, due=due)
        new_id.append(item.id)
        items = [*incident.action_items, item]
        file.set_field("action_items", [_item_data(i) for i in items])
        text, subject = action_added(item.id, title, owner, due)
        file.add_entry(Entry(now, author, "action", text))
        _refresh_actions(repo, file)
        return subject

    change = repo.change(ref, mutate, commit=commit, command="action add")
    return Change(
        change.id,
        change.path,
        change.commit,
        change.subject,
        {**change.extra, "action": new_id[0]},
    )


def next_action_id(taken: Iterable[str]) -> str:
    """AI-N: one past the highest number taken."""
    return f"AI-{max((int(ident[3:]) for ident in taken), default=0) + 1}"


def action_added(ident: str, title: str, owner: str, due: date) -> tuple[str, str]:
    """The timeline entry and the commit subject of a new action item."""
    text = f"Action item {ident} added: {title} (owner {owner}, due {due.isoformat()})"
    return text, f"action {ident}: {one_line(title, 50)}"


def complete_action(
    repo: RepoBase, ref: str, action_id: str, *, now: datetime | None = None, commit: bool = True
) -> Change:
    """Mark an action item done."""
    wanted = action_id.strip().upper()
    if wanted.isdigit():
        wanted = f"AI-{wanted}"
    now = now or utcnow()
    author = repo.author()

    def mutate(file: IncidentFile) -> str:
        from ..incident.model import ActionStatus

        incident = validate(file)
        items = list(incident.action_items)
        index = next((n for n, it in enumerate(items) if it.id == wanted), None)
        if index is None:
            known = ", ".join(i.id for i in items) or "none"
            raise NotFound(f"{incident.id} has no action item {action_id!r} (it has: {known})")
        item = items[index]
        if item.status == ActionStatus.DONE:
            raise NothingToDo(f"{wanted} is already done")
        items[index] = item.model_copy(update={"status": ActionStatus.DONE})
        file.set_field("action_items", [_item_data(i) for i in items])
        file.add_entry(Entry(now, author, "action", f"Action item {wanted} done: {item.title}"))
        _refresh_actions(repo, file)
        return f"action {wanted} done"

    return repo.change(ref, mutate, commit=commit, command="action done")


def link_issues(
    repo: RepoBase,
    ref: str,
    links: dict[str, tuple[str, str | None]],
    *,
    commit: bool = True,
) -> Change:
    """Record ticket URLs and keys in action items (`issues sync --write-back`):
    {action id: (url, key)}."""

    def mutate(file: IncidentFile) -> str:
        incident = validate(file)
        items = [
            item.model_copy(update={"issue": links[item.id][0], "ticket": links[item.id][1]})
            if item.id in links
            else item
            for item in incident.action_items
        ]
        file.set_field("action_items", [_item_data(i) for i in items])
        _refresh_actions(repo, file)
        return f"link action items to issues ({', '.join(sorted(links))})"

    return repo.change(ref, mutate, commit=commit, command="issues sync --write-back")


def _refresh_actions(repo: RepoBase, file: IncidentFile) -> None:
    from ..incident.postmortem import refresh_actions

    refresh_actions(file, validate(file), repo.root)


def actions(
    repo: RepoBase,
    ref: str | None = None,
    *,
    open_only: bool = False,
    overdue: bool = False,
    today: date | None = None,
    warn: Callable[[str], None] | None = None,
) -> list[ActionRow]:
    """Action items of one incident, or of all, filtered."""
    from ..incident.model import ActionStatus
    from .reading import valid_incidents
    from .rows import ActionRow

    today = today or utcnow().date()
    if ref is not None:
        _, incident = repo.get(ref)
        incidents = [(incident, repo.resolve(ref)[1])]
    else:
        incidents = valid_incidents(repo, warn)
    rows = []
    for incident, path in incidents:
        for item in incident.action_items:
            is_open = item.status == ActionStatus.OPEN
            late = is_open and item.due is not None and item.due < today
            if (open_only and not is_open) or (overdue and not late):
                continue
            rows.append(
                ActionRow(
                    incident.id,
                    repo.rel(path),
                    item.id,
                    item.title,
                    item.owner,
                    item.due,
                    item.status.value,
                    item.issue,
                    late,
                    item.ticket,
                )
            )
    return rows


def _item_data(item: Any) -> dict[str, Any]:
    """An action item as it is written in the front matter (unset keys left out)."""
    data: dict[str, Any] = item.model_dump(mode="python", exclude_none=True)
    data["status"] = item.status.value
    return data
