"""The merge driver's three-way cases, as a table, through real `git pull` and `incidentctl sync`.

Two clones of one bare origin hold the same incident (a copy of one set-up per
case). The remote clone changes it and pushes; the local clone changes it too and
then pulls (`git pull --no-rebase`, where git's "ours" is the local side) or syncs
(`incidentctl sync`, a rebase, where git's "ours" is the remote side). Each side
also sets a role of its own, so git must run the driver on the file in every case.
git runs the driver as its own process; `sync` runs in this process (through
click), which spares each case a start-up.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import Repo, git
from test_team import MARKER, Team, cli, cli_json, make_team, run_git, snapshot

from incidentctl.incident.file import IncidentFile
from incidentctl.incident.postmortem import refresh_actions
from incidentctl.incident.timeline import Entry
from incidentctl.incident.validation import validate
from incidentctl.incident.yamlio import dump_field
from incidentctl.repo.merge import merge_incident

REL = "incidents/2026/INC-20261126-ab12-checkout-failing.md"

FRONT = """\
---
id: INC-20261126-ab12
title: Checkout failing
status: investigating
severity: SEV-2
type: outage
environment: production
services:
- checkout
commander: Alice
roles:
  comms: Bob
visibility: internal
detected_at: null
started_at: null
opened_at: 2026-11-26T10:00:00Z
acknowledged_at: 2026-11-26T10:05:00Z
mitigated_at: null
resolved_at: null
closed_at: null
action_items:
- id: AI-1
  title: Add a saturation alert
  owner: bob
  due: 2026-12-10
  status: open
- id: AI-2
  title: Load-test checkout
  owner: carol
  due: 2026-12-20
  status: open
---

# Checkout failing

## Summary

Checkout returns 500s for a third of requests.

## Timeline

- `2026-11-26T10:00:00Z` **Alice** _(opened)_ Incident opened.
- `2026-11-26T10:05:00Z` **Alice** _(status)_ Status triage → investigating
- `2026-11-26T10:10:00Z` **Bob** _(note)_ Paged the database on-call, token hunter2
- `2026-11-26T10:20:00Z` **Carol** _(note)_ Error rate falling

## Action Items

<!-- incidentctl:action-items -->
<!-- /incidentctl:action-items -->
"""


def rendered(text: str) -> str:
    """The text with its Action items table rendered from its items, as the tool writes it."""
    file = IncidentFile(text)
    refresh_actions(file, validate(file), None)
    return file.text


BASE = rendered(FRONT)

# -- the timeline entry the cases change, and the entries they add ------------------------------

OPENED, STATUS, FALLING = "Incident opened.", "Status triage → investigating", "Error rate falling"
SECRET = "Paged the database on-call, token hunter2"
EDITED = {"local": "Paged the database on-call (token redacted)", "remote": "Paged the DBA"}
ADDED = {  # local's entry comes last; remote's lands between two base entries
    "local": Entry(
        datetime(2026, 11, 26, 10, 25, tzinfo=timezone.utc), "Dana", "note", "Rolled back"
    ),
    "remote": Entry(
        datetime(2026, 11, 26, 10, 15, tzinfo=timezone.utc), "Erin", "comms", "Notified"
    ),
}
TARGET = "- `2026-11-26T10:10:00Z` **Bob** _(note)_ "


def add_entry(text: str, entry: Entry) -> str:
    file = IncidentFile(text)
    file.add_entry(entry)
    return file.text


def entry_op(name: str) -> Callable[[str, str], str]:
    """One side's change to the timeline: (text, side) -> text."""
    ops: dict[str, Callable[[str, str], str]] = {
        "unchanged": lambda text, side: text,
        "add": lambda text, side: add_entry(text, ADDED[side]),
        "add the same": lambda text, side: add_entry(text, ADDED["remote"]),
        "delete": lambda text, side: text.replace(TARGET + SECRET + "\n", ""),
        "edit": lambda text, side: text.replace(TARGET + SECRET, TARGET + EDITED[side]),
        "edit the same": lambda text, side: text.replace(TARGET + SECRET, TARGET + EDITED["local"]),
    }
    return ops[name]


CONFLICT = "conflict"
L, R = EDITED["local"], EDITED["remote"]
AL, AR = ADDED["local"].text, ADDED["remote"].text

# (local change, remote change, the merged timeline's texts or CONFLICT)
ENTRY_CASES = [
    ("unchanged", "unchanged", [OPENED, STATUS, SECRET, FALLING]),
    ("unchanged", "add", [OPENED, STATUS, SECRET, AR, FALLING]),
    ("unchanged", "delete", [OPENED, STATUS, FALLING]),
    ("unchanged", "edit", [OPENED, STATUS, R, FALLING]),
    ("add", "unchanged", [OPENED, STATUS, SECRET, FALLING, AL]),
    ("add", "add", [OPENED, STATUS, SECRET, AR, FALLING, AL]),
    ("add the same", "add the same", [OPENED, STATUS, SECRET, AR, FALLING]),
    ("add", "delete", [OPENED, STATUS, FALLING, AL]),
    ("add", "edit", [OPENED, STATUS, R, FALLING, AL]),
    ("delete", "unchanged", [OPENED, STATUS, FALLING]),
    ("delete", "add", [OPENED, STATUS, AR, FALLING]),
    ("delete", "delete", [OPENED, STATUS, FALLING]),
    ("delete", "edit", CONFLICT),
    ("edit", "unchanged", [OPENED, STATUS, L, FALLING]),
    ("edit", "add", [OPENED, STATUS, L, AR, FALLING]),
    ("edit", "delete", CONFLICT),
    ("edit", "edit", CONFLICT),
    ("edit the same", "edit the same", [OPENED, STATUS, L, FALLING]),
]

# -- the action item the cases change, and the items they add -----------------------------------

NEW_ITEM = {
    "local": ("Cap retries", "erin", "2027-01-05", "Dana", 25),
    "remote": ("Shard the queue", "fred", "2027-01-06", "Erin", 15),
}
ITEM_TITLE = {"local": "Alert on p99 latency", "remote": "Alert on queue depth"}


def change_items(text: str, change: Callable[[list[dict[str, Any]]], None]) -> str:
    file = IncidentFile(text)
    items = [dict(item) for item in file.data["action_items"]]
    change(items)
    file.set_field("action_items", items)
    return rendered(file.text)


def add_item(text: str, side: str) -> str:
    """What `action add` writes: the next number, its table row and a timeline entry."""
    title, owner, due, author, minute = NEW_ITEM[side]
    item = {"id": "AI-3", "title": title, "owner": owner, "due": date.fromisoformat(due)}
    text = change_items(text, lambda items: items.append({**item, "status": "open"}))
    when = datetime(2026, 11, 26, 10, minute, tzinfo=timezone.utc)
    line = f"Action item AI-3 added: {title} (owner {owner}, due {due})"
    return add_entry(text, Entry(when, author, "action", line))


def set_first(**values: Any) -> Callable[[list[dict[str, Any]]], None]:
    return lambda items: items[0].update(values)


def item_op(name: str) -> Callable[[str, str], str]:
    """One side's change to the action items: (text, side) -> text."""
    ops: dict[str, Callable[[str, str], str]] = {
        "unchanged": lambda text, side: text,
        "add": add_item,
        "add the same": lambda text, side: add_item(text, "local"),
        "delete": lambda text, side: change_items(text, lambda items: items.pop(0)),
        "edit": lambda text, side: change_items(text, set_first(title=ITEM_TITLE[side])),
        "edit the same": lambda text, side: change_items(text, set_first(status="done")),
        "mark done": lambda text, side: change_items(text, set_first(status="done")),
        "reassign": lambda text, side: change_items(text, set_first(owner="dave")),
    }
    return ops[name]


AI1 = ("AI-1", "Add a saturation alert", "bob", "open")
AI2 = ("AI-2", "Load-test checkout", "carol", "open")
CAP = ("Cap retries", "erin", "open")
SHARD = ("Shard the queue", "fred", "open")
ADDED_ENTRY = {
    "Cap retries": "Action item {} added: Cap retries (owner erin, due 2027-01-05)",
    "Shard the queue": "Action item {} added: Shard the queue (owner fred, due 2027-01-06)",
}


def edited(title: str = AI1[1], owner: str = AI1[2], status: str = AI1[3]) -> tuple[str, ...]:
    return ("AI-1", title, owner, status)


# (local change, remote change, the merged items (id, title, owner, status) or CONFLICT).
# A dict gives the result per route where they differ: both sides adding AI-3 renumbers
# the side git calls "theirs", the remote's for `git pull`, the local one for `sync`.
ITEM_CASES: list[tuple[str, str, Any]] = [
    ("unchanged", "unchanged", [AI1, AI2]),
    ("unchanged", "add", [AI1, AI2, ("AI-3", *SHARD)]),
    ("unchanged", "delete", [AI2]),
    ("unchanged", "edit", [edited(ITEM_TITLE["remote"]), AI2]),
    ("add", "unchanged", [AI1, AI2, ("AI-3", *CAP)]),
    (
        "add",
        "add",
        {
            "git pull": [AI1, AI2, ("AI-3", *CAP), ("AI-4", *SHARD)],
            "sync": [AI1, AI2, ("AI-3", *SHARD), ("AI-4", *CAP)],
        },
    ),
    ("add the same", "add the same", [AI1, AI2, ("AI-3", *CAP)]),
    ("add", "delete", [AI2, ("AI-3", *CAP)]),
    ("add", "edit", [edited(ITEM_TITLE["remote"]), AI2, ("AI-3", *CAP)]),
    ("delete", "unchanged", [AI2]),
    ("delete", "add", [AI2, ("AI-3", *SHARD)]),
    ("delete", "delete", [AI2]),
    ("delete", "edit", CONFLICT),
    ("edit", "unchanged", [edited(ITEM_TITLE["local"]), AI2]),
    ("edit", "add", [edited(ITEM_TITLE["local"]), AI2, ("AI-3", *SHARD)]),
    ("edit", "delete", CONFLICT),
    ("edit", "edit", CONFLICT),
    ("edit the same", "edit the same", [edited(status="done"), AI2]),
    ("mark done", "reassign", [edited(owner="dave", status="done"), AI2]),
]

ROUTES = ["git pull", "sync"]


# -- the shared set-up: one origin and two clones, copied for each case --------------------------


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """origin.git, `local` and `remote` (both with the driver registered), holding BASE."""
    root = tmp_path_factory.mktemp("merge-template")
    with pytest.MonkeyPatch.context() as env:
        home = root / "home"
        home.mkdir()
        (home / ".gitconfig").write_text(
            "[user]\n\tname = Alice Responder\n\temail = alice@example.com\n"
            "[commit]\n\tgpgSign = false\n[init]\n\tdefaultBranch = main\n"
        )
        env.setenv("HOME", str(home))
        env.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
        env.setenv("GIT_CONFIG_NOSYSTEM", "1")
        origin = root / "origin.git"
        git(root, "init", "--quiet", "--bare", str(origin))
        seed = root / "seed"
        git(root, "clone", "--quiet", str(origin), str(seed))
        cli(seed, "init", str(seed))
        (seed / REL).parent.mkdir(parents=True, exist_ok=True)
        (seed / REL).write_text(BASE, encoding="utf-8")
        git(seed, "add", "-A")
        git(seed, "commit", "--quiet", "-m", "Set up the incident repository")
        git(seed, "push", "--quiet", "-u", "origin", "main")
        team = Team(root, origin, "INC-20261126-ab12", REL)
        for name in ("local", "remote"):
            team.clone(name)
        shutil.rmtree(seed)
        yield root


@pytest.fixture
def pair(template: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    """A fresh copy of the template: (origin, local, remote)."""
    for name in ("origin.git", "local", "remote"):
        shutil.copytree(template / name, tmp_path / name, symlinks=True)
    origin = tmp_path / "origin.git"
    for name in ("local", "remote"):
        git(tmp_path / name, "remote", "set-url", "origin", str(origin))
    return origin, tmp_path / "local", tmp_path / "remote"


def commit(clone: Path, text: str, message: str) -> None:
    (clone / REL).write_text(text, encoding="utf-8")
    git(clone, "commit", "--quiet", "-am", message)


def diverge(
    pair: tuple[Path, Path, Path],
    op: Callable[[str], Callable[[str, str], str]],
    case: tuple[str, str],
) -> None:
    """The remote clone makes its change and pushes; the local clone makes its own."""
    _, local, remote = pair
    role = {"local": ("scribe", "Sam"), "remote": ("deputy", "Dee")}
    for side, clone, name in (("remote", remote, case[1]), ("local", local, case[0])):
        file = IncidentFile(op(name)(BASE, side))
        file.set_field("roles", {**file.data["roles"], role[side][0]: role[side][1]})
        commit(clone, file.text, f"{side}: {name}")
    git(remote, "push", "--quiet", "origin", "main")


def merge(route: str, origin: Path, local: Path) -> tuple[int, str]:
    """Pull or sync the local clone: (exit code, its incident file afterwards)."""
    if route == "git pull":
        result = run_git(local, "pull", "--no-rebase", "--no-edit")
        code, message = result.returncode, result.stderr + result.stdout
    else:
        synced = Repo(local).run("sync")  # the real command, in this process: no start-up cost
        code, message = synced.exit_code, synced.output
    if code and route == "sync":
        assert f"sync stopped: {REL} changed on both sides" in message, message
    return code, (local / REL).read_text(encoding="utf-8")


def assert_merged(route: str, pair: tuple[Path, Path, Path], text: str) -> IncidentFile:
    """A clean result: no markers, valid, both roles, a clean work tree; sync pushed it."""
    origin, local, _ = pair
    assert not MARKER.search(text), text
    file = IncidentFile(text, REL)
    validate(file)
    assert file.data["roles"] == {"comms": "Bob", "scribe": "Sam", "deputy": "Dee"}
    assert git(local, "status", "--porcelain") == ""
    if route == "sync":
        assert git(origin, "show", f"main:{REL}") == text
    return file


def assert_stopped(
    route: str, pair: tuple[Path, Path, Path], run: Callable[[], tuple[int, str]]
) -> str:
    """A conflict: `git pull` leaves markers; `sync` exits 1 and leaves everything as it was."""
    origin, local, _ = pair
    if route == "sync":
        before, origin_head = snapshot(local), git(origin, "rev-parse", "main")
        code, text = run()
        assert code == 1
        assert snapshot(local) == before, "the stopped sync changed the clone"
        assert git(origin, "rev-parse", "main") == origin_head, "the stopped sync pushed"
        assert not MARKER.search(text)
        return text
    code, text = run()
    assert code != 0
    assert REL in git(local, "diff", "--name-only", "--diff-filter=U")
    return text


def block(text: str) -> str:
    return text[text.index("<<<<<<< ours\n") : text.index(">>>>>>> theirs\n") + 15]


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(("mine", "theirs", "expected"), ENTRY_CASES)
def test_timeline_entry_cases(
    pair: tuple[Path, Path, Path], route: str, mine: str, theirs: str, expected: Any
) -> None:
    """Each pair of changes to one timeline entry merges to exactly the expected timeline."""
    diverge(pair, entry_op, (mine, theirs))
    origin, local, _ = pair
    if expected != CONFLICT:
        code, text = merge(route, origin, local)
        assert code == 0, text
        file = assert_merged(route, pair, text)
        assert [e.text for e in file.timeline()] == expected
        assert text.count(SECRET) == (SECRET in expected)
        return
    text = assert_stopped(route, pair, lambda: merge(route, origin, local))
    if route == "sync":
        return
    assert len(MARKER.findall(text)) == 3  # around that one entry only
    ours = TARGET + EDITED["local"] + "\n" if mine == "edit" else ""
    other = TARGET + EDITED["remote"] + "\n" if theirs == "edit" else ""
    assert block(text) == f"<<<<<<< ours\n{ours}=======\n{other}>>>>>>> theirs\n"
    assert text.index("Status triage → investigating") < text.index("<<<<<<<")
    assert text.index(">>>>>>>") < text.index(FALLING)
    assert "roles:\n  comms: Bob\n  scribe: Sam\n  deputy: Dee\n" in text


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(("mine", "theirs", "expected"), ITEM_CASES)
def test_action_item_cases(
    pair: tuple[Path, Path, Path], route: str, mine: str, theirs: str, expected: Any
) -> None:
    """Each pair of changes to the action items merges to exactly the expected items and table,
    and the timeline names every item by the number it ends up with."""
    diverge(pair, item_op, (mine, theirs))
    origin, local, remote = pair
    if isinstance(expected, dict):
        expected = expected[route]
    if expected != CONFLICT:
        code, text = merge(route, origin, local)
        assert code == 0, text
        file = assert_merged(route, pair, text)
        items = [(i["id"], i["title"], i["owner"], i["status"]) for i in file.data["action_items"]]
        assert items == expected
        rows = re.findall(r"^\| (AI-\d+) \| ([^|]+?) \| ([^|]+?) \| [^|]+ \| (\w+) \|", text, re.M)
        assert rows == items, "the Action items table does not follow the merged items"
        added = [e.text for e in file.timeline() if e.kind == "action"]
        wanted = [
            ADDED_ENTRY[title].format(ident) for ident, title, *_ in items if title in ADDED_ENTRY
        ]
        assert sorted(added) == sorted(wanted)
        return
    local_items = IncidentFile((local / REL).read_text(encoding="utf-8")).data["action_items"]
    text = assert_stopped(route, pair, lambda: merge(route, origin, local))
    if route == "sync":
        return
    remote_items = IncidentFile(git(remote, "show", f"HEAD:{REL}")).data["action_items"]
    assert len(MARKER.findall(text)) == 3  # around `action_items` only
    expected_block = [
        "<<<<<<< ours\n",
        *dump_field("action_items", local_items),
        "=======\n",
        *dump_field("action_items", remote_items),
        ">>>>>>> theirs\n",
    ]
    assert block(text) == "".join(expected_block)


# -- action items renumbered by a merge, and incidents renumbered by sync ------------------------


def test_an_item_added_and_done_before_sync_keeps_its_work_when_the_merge_renumbers_it(
    tmp_path: Path, origin: Path
) -> None:
    """Local adds AI-3 and marks it done, remote added another AI-3 first: after sync the
    local item is AI-4, done, and the timeline says AI-4 for it and AI-3 for the remote's."""
    team = make_team(tmp_path, origin)
    remote = team.clone("remote")
    cli(remote, "postmortem", team.ident)
    cli(remote, "sync")
    local = team.clone("local")
    cli(
        remote,
        "action",
        "add",
        team.ident,
        "Shard the queue",
        "--owner",
        "fred",
        "--due",
        "2027-01-06",
    )
    cli(local, "action", "add", team.ident, "Cap retries", "--owner", "erin", "--due", "2027-01-05")
    cli(local, "action", "done", team.ident, "AI-1")
    cli(remote, "sync")
    result = cli_json(local, "sync")
    assert (result["pulled"], result["pushed"]) == (1, 2)

    text = team.origin_text()
    items = [(i["id"], i["title"], i["status"]) for i in IncidentFile(text).data["action_items"]]
    assert items == [("AI-1", "Shard the queue", "open"), ("AI-2", "Cap retries", "done")]
    rows = re.findall(r"^\| (AI-\d+) \| ([^|]+?) \| [^|]+ \| [^|]+ \| (\w+) \|", text, re.M)
    assert rows == items
    actions = [e.text for e in IncidentFile(text).timeline() if e.kind == "action"]
    assert actions == [
        "Action item AI-1 added: Shard the queue (owner fred, due 2027-01-06)",
        "Action item AI-2 added: Cap retries (owner erin, due 2027-01-05)",
        "Action item AI-2 done: Cap retries",
    ]
    assert not MARKER.search(text)
    assert cli(local, "check", check=False).returncode == 0


def test_a_renumbered_incident_names_its_new_id_in_its_own_text(
    tmp_path: Path, origin: Path
) -> None:
    """sync renumbers an unpushed incident whose ID origin has: its timeline and post-mortem
    tables name the new ID, and the old one is gone from the file."""
    team = make_team(tmp_path, origin)
    a, b = team.clone("a"), team.clone("b")
    taken = cli_json(a, "open", "Disk full on db-1")["id"]
    second = cli_json(b, "open", "Queue backlog", "--no-commit")
    cli(b, "log", second["id"], f"Split from {second['id']}; see {second['path']}", "--no-commit")
    cli(b, "postmortem", second["id"], "--no-commit")
    made = b / second["path"]
    forged = made.with_name(made.name.replace(second["id"], taken))
    forged.write_text(
        made.read_text(encoding="utf-8").replace(second["id"], taken), encoding="utf-8"
    )
    made.unlink()
    git(b, "add", "-A")
    git(b, "commit", "--quiet", "-m", f"incident({taken}): open SEV-3: Queue backlog")
    assert forged.read_text(encoding="utf-8").count(taken) >= 4

    cli(a, "sync")
    result = cli_json(b, "sync")
    [renumbered] = result["renumbered"]
    new = renumbered["to"]
    path = forged.with_name(forged.name.replace(taken, new))
    text = path.read_text(encoding="utf-8")
    assert taken not in text
    assert f"Split from {new}; see {path.relative_to(b).as_posix()}" in [
        e.text for e in IncidentFile(text).timeline()
    ]
    assert f"| Incident | {new}: Queue backlog |" in text
    assert f"incidentctl action add {new} " in text
    checked = cli(b, "check", str(path), check=False)
    assert checked.returncode == 0, checked.stdout


# -- merge_incident on hand-made texts: entry identity -------------------------------------------

SAME = "- `2026-11-26T10:10:00Z` **Bob** _(note)_ "


def test_entries_sharing_time_author_and_kind_are_told_apart_by_place() -> None:
    """Two entries with one (time, author, kind): an edit of the first on one side and a
    deletion of the second on the other both land, on the right entries."""
    base = BASE.replace(TARGET + SECRET, SAME + "first\n" + SAME + "second")
    ours = base.replace(SAME + "first", SAME + "first, corrected")
    theirs = base.replace(SAME + "second\n", "")
    text, clean = merge_incident(base, ours, theirs)
    assert clean, text
    assert [e.text for e in IncidentFile(text).timeline()] == [
        OPENED,
        STATUS,
        "first, corrected",
        FALLING,
    ]
    # the other way round: the deletion is ours, the edit theirs
    text, clean = merge_incident(base, theirs, ours)
    assert clean, text
    assert [e.text for e in IncidentFile(text).timeline()] == [
        OPENED,
        STATUS,
        "first, corrected",
        FALLING,
    ]


def test_an_edit_and_a_new_entry_with_the_same_time_author_and_kind_are_both_kept() -> None:
    """One side edits an entry, the other adds one with its time, author and kind: both stay."""
    ours = BASE.replace(TARGET + SECRET, TARGET + "token redacted")
    theirs = BASE.replace(TARGET + SECRET, TARGET + SECRET + "\n" + TARGET + "one more")
    text, clean = merge_incident(BASE, ours, theirs)
    assert clean, text
    assert [e.text for e in IncidentFile(text).timeline()] == [
        OPENED,
        STATUS,
        "token redacted",
        "one more",
        FALLING,
    ]


def test_a_multi_line_entry_edited_on_one_side_is_one_entry_changed() -> None:
    """An entry's continuation lines belong to it: editing one of them is an edit, not an add."""
    base = BASE.replace(TARGET + SECRET, TARGET + "Paged the DBA\n  token hunter2\n  more")
    ours = base.replace("  token hunter2\n", "  token [redacted]\n")
    theirs = add_entry(base, ADDED["remote"])
    text, clean = merge_incident(base, ours, theirs)
    assert clean, text
    assert "hunter2" not in text
    assert [e.text for e in IncidentFile(text).timeline()] == [
        OPENED,
        STATUS,
        "Paged the DBA\ntoken [redacted]\nmore",
        AR,
        FALLING,
    ]


def test_renumbering_rewrites_whole_item_ids_in_that_sides_entries_only() -> None:
    """Theirs' AI-3 becomes AI-4: its entries say AI-4; AI-30, the author and ours' AI-3 stay."""
    ours = add_item(BASE, "local")
    theirs = add_entry(
        add_item(BASE, "remote"),
        Entry(
            datetime(2026, 11, 26, 10, 16, tzinfo=timezone.utc),
            "AI-3",
            "note",
            "AI-3 waits on AI-30 (AI-3-b)",
        ),
    )
    text, clean = merge_incident(BASE, ours, theirs)
    assert clean, text
    assert [e.text for e in IncidentFile(text).timeline() if e.kind in ("action", "note")][-4:] == [
        ADDED_ENTRY["Shard the queue"].format("AI-4"),
        "AI-4 waits on AI-30 (AI-3-b)",
        FALLING,
        ADDED_ENTRY["Cap retries"].format("AI-3"),
    ]
    assert "**AI-3** _(note)_" in text
