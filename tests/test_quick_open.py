"""`open TITLE` through the click-free fast path (fastpath.py, repo/quickopen.py)
writes the bytes lifecycle.new writes, makes the same commit, prints the same as the
click command, and loads neither click, Jinja2, the model nor PyYAML.

In-process, for many generated inputs, the fast way and lifecycle.new write one
file each with the same ID and `now`; through subprocesses, the fast path runs on
one copy of a repository and the click command on another, and everything they
left is compared (IDs, SHAs and this run's times normalised).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import Repo, console_script, git
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incidentctl.errors import IncidentctlError
from incidentctl.fastpath import parse
from incidentctl.incident.config import ENVIRONMENTS, TYPES
from incidentctl.incident.file import IncidentFile
from incidentctl.incident.jsonview import front_matter_json
from incidentctl.incident.model import Environment, IncidentType
from incidentctl.incident.plainyaml import plain
from incidentctl.incident.validation import validate
from incidentctl.repo import lifecycle, quickopen
from incidentctl.repo.frontcache import FrontCache, blob_id
from incidentctl.repo.incidents import IncidentRepo

FAST = (
    "import os, sys; from incidentctl.fastpath import run; status = run(sys.argv[1:]); "
    "open(os.environ['LOADED'], 'w').write(' '.join(sorted(sys.modules))); "
    "sys.stdout.flush(); sys.exit(3 if status is None else status)"
)
CLICK = "import sys; from incidentctl.cli import cli; cli(sys.argv[1:], prog_name='incidentctl')"
# What `open` must not load (tests/test_fastpath.py has the same list for `log`).
HEAVY = {"click", "pydantic", "yaml", "jinja2", "frontmatter", "git", "markdown_it", "subprocess"}
HEAVY |= {"hashlib", "json", "typing", "pathlib", "contextlib", "tomllib", "tomli", "re", "enum"}
HEAVY |= {"secrets", "unicodedata"}
FULL_WAY = {"jinja2", "yaml", "pydantic"}
REAL_NEW = lifecycle.new


class _Stdin:
    def __init__(self, tty: bool):
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(
    ("argv", "tty", "handled"),
    [
        (["open", "Checkout errors"], False, True),
        (
            ["--repo", "/tmp", "open", "T", "-s", "1", "-t", "security", "-e", "staging"],
            False,
            True,
        ),
        (
            ["open", "T", "--service", "a", "--service=b", "-c", "Bob", "--summary", "x"],
            False,
            True,
        ),
        (["open", "--severity=2", "--type=data", "--env=development", "T"], False, True),
        (
            ["open", "T", "--commander=Bob", "--json", "--no-commit", "--push", "--no-notify"],
            False,
            True,
        ),
        (["open", "T", "--no-push", "-s", ""], False, True),  # the core takes the default
        (["open", "T"], True, False),  # in a terminal click asks for the severity
        (["open", "T", "-s", "2"], True, True),
        (["open", "T", "--json"], True, True),  # click asks nothing with --json
        (["open"], False, False),  # click's usage error
        (["open"], True, False),  # click asks for the title
        (["open", "A", "B"], False, False),
        (["open", "T", "--at", "5m"], False, False),
        (["open", "T", "--detected-at", "5m"], False, False),
        (["open", "T", "--started-at", "1h"], False, False),
        (["open", "T", "--alert-payload", "{}"], False, False),
        (["open", "--alert-payload=@x.json"], False, False),
        (["open", "T", "--source", "plain"], False, False),
        (["open", "T", "--no-dedupe"], False, False),
        (["open", "T", "--manual-incident"], False, False),
        (["open", "T", "-h"], False, False),
        (["open", "--help"], False, False),
        (["open", "T", "-t", "bogus"], False, False),  # click's Choice error
        (["open", "T", "-t", "Outage"], False, False),
        (["open", "T", "-e", "prod"], False, False),
        (["open", "T", "-s"], False, False),
        (["open", "T", "-s1"], False, False),
        (["open", "T", "-t=data"], False, False),
        (["open", "--", "-rf"], False, False),
        (["open", "-rf"], False, False),
        (["--repo", "", "open", "T"], False, False),
    ],
)
def test_parse_takes_only_the_plain_forms(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], tty: bool, handled: bool
) -> None:
    """A title and the plain options, and no question click would ask; the rest is
    click's (its prompts, usage errors, alert and backfill options)."""
    monkeypatch.setattr(sys, "stdin", _Stdin(tty))
    assert (parse(argv, "open") is not None) is handled


def test_parse_collects_every_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", _Stdin(False))
    opts = parse(["open", "T", "--service", "a", "-c", "x", "--service=b"], "open")
    assert opts is not None and opts["services"] == ["a", "b"] and opts["title"] == "T"


def test_the_vocabulary_is_the_models() -> None:
    """The strings `open` checks against are the enums lifecycle.new used to."""
    assert tuple(t.value for t in IncidentType) == TYPES
    assert tuple(e.value for e in Environment) == ENVIRONMENTS


# -- byte for byte what lifecycle.new writes, in process -----------------------------

TITLES = [
    "Checkout errors",
    "Paiement échoué à Zürich",
    "Zahlungen: Fehler",  # `: ` -> quoted
    "API: 500s",
    "yes",
    "#1 down",
    "'quoted'",
    "500s from the API",  # a digit first: left to PyYAML
    "Ошибка оплаты",
    "Login loop 🔁",
    "Disk full on db-1 (primary) — again",
    "A" * 200,
    "Title with  two spaces",
    "",
    "   ",
    "bidi \u202e title",
    "two\nlines",
]
NAMES = ["pay", "api-gateway", "Bob Builder", "José Ñúñez", "on-call: Dan", "null", "x" * 201, ""]
SUMMARIES = [
    "Cards fail in the EU",
    "line one\n## not a heading\n\n```\ncode\n<!-- x -->\n=======\n- [ ] item",
    "trailing spaces   \nand a tab\tinside\r\nCRLF",
    "> quoted\n    indented\n1. numbered",
    "   ",
]


def _text() -> st.SearchStrategy[str]:
    return st.text(
        st.characters(codec="utf-8", exclude_categories=["Cs"]) | st.sampled_from("aZ :#'-"),
        max_size=40,
    )


@st.composite
def _inputs(draw: st.DrawFn) -> dict[str, Any]:
    services = st.lists(st.sampled_from(NAMES[:-2]) | _text(), max_size=3)
    return {
        "title": draw(st.sampled_from(TITLES) | _text()),
        "severity": draw(
            st.sampled_from([None, "SEV-1", "1", "sev2", "P0", "low", " Sev-3 ", "9"])
        ),
        "type": draw(st.sampled_from([None, *TYPES, "bogus"])),
        "environment": draw(st.sampled_from([None, *ENVIRONMENTS])),
        "services": draw(services),
        "commander": draw(st.sampled_from([None, "", *NAMES]) | _text()),
        "summary": draw(st.sampled_from([None, "", *SUMMARIES]) | _text()),
        "now": draw(
            st.datetimes(
                min_value=datetime(2000, 1, 1),
                max_value=datetime(2099, 12, 31),
                timezones=st.just(timezone.utc),
            )
        ),
    }


@pytest.fixture
def core(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[IncidentRepo, list[int]]]:
    """The repository with a fixed next ID, and a count of the fast way's fall-backs."""
    fixed = IncidentRepo.open(repo.path)
    monkeypatch.setattr(fixed, "new_id", lambda now, taken=(): f"INC-{now:%Y%m%d}-zz9q")
    full_way: list[int] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        full_way.append(1)
        return REAL_NEW(*args, **kwargs)

    monkeypatch.setattr(lifecycle, "new", counted)
    yield fixed, full_way


def _write(how: Any, repo: IncidentRepo, given: dict[str, Any]) -> tuple[str, str] | str:
    """(path, text) of the file `how` writes (then removed), or its error."""
    try:
        change = how(
            repo, given["title"], commit=False, **{k: given[k] for k in given if k != "title"}
        )
    except IncidentctlError as exc:
        return f"{type(exc).__name__}: {exc}"
    path = repo.root / change.path
    text = path.read_bytes().decode("utf-8")
    path.unlink()
    return change.path, text


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(given=_inputs())
def test_the_fast_way_writes_what_lifecycle_new_writes(
    core: tuple[IncidentRepo, list[int]], given: dict[str, Any]
) -> None:
    """The same bytes (or the same error) for the same inputs and `now`; the fast way
    itself whenever every value is written plain, and its cache entry is the model's."""
    repo, full_way = core
    full_way.clear()
    fast = _write(quickopen.open_incident, repo, given)
    cached = None
    if isinstance(fast, tuple):
        cached = FrontCache(repo.git.gitdir, "fm").get(blob_id(fast[1].encode("utf-8")))
    slow = _write(REAL_NEW, repo, given)
    assert fast == slow
    if isinstance(fast, str):
        assert not full_way  # refused before the choice: the same message
        return
    file = IncidentFile(fast[1], fast[0])
    incident = validate(file)
    values = [incident.title, *incident.services, incident.commander or ""]
    assert bool(full_way) is not all(plain(value) for value in values), values
    if not full_way:
        expected = front_matter_json(file, incident)
        assert cached == expected and list(cached) == list(expected)


CHECKLISTS = [
    "## Checklist\n\n- [ ] one\n",
    "no final newline",
    "crlf\r\nand cr\rand lf\n",
    "\ufeffa byte order mark\n\n\n",
    "  indented  \n\t\ttabs\n",
    "lone braces { } }} %} #} {x}\n",
    "",
]


@pytest.mark.parametrize("text", CHECKLISTS, ids=range(len(CHECKLISTS)))
def test_a_checklist_without_jinja_syntax_is_what_jinja2_renders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    from incidentctl.incident import render

    packaged = _packaged(tmp_path, monkeypatch)
    (packaged / "checklist-data.md.j2").write_bytes(text.encode("utf-8"))
    monkeypatch.setattr(render, "packaged_templates", lambda: packaged)
    render.environment.cache_clear()
    try:
        assert quickopen._checklist(str(tmp_path), "data") == render.render(
            "checklist-data.md.j2", {}
        )
    finally:
        render.environment.cache_clear()


def _packaged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    packaged = tmp_path / "packaged"
    packaged.mkdir()
    (packaged / "incident.md.j2").write_text(quickopen.INCIDENT_TEMPLATE)
    monkeypatch.setattr(quickopen, "_packaged_templates", lambda: str(packaged))
    return packaged


@pytest.mark.parametrize(
    "text", ["- [ ] {{ incident.title }}\n", "{% if x %}\n", "{# note #}\n", "{%- raw %}"]
)
def test_a_checklist_with_jinja_syntax_goes_the_full_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    packaged = _packaged(tmp_path, monkeypatch)
    (packaged / "checklist-outage.md.j2").write_text(text)
    with pytest.raises(quickopen._FullWay):
        quickopen._checklist(str(tmp_path), "outage")


def test_another_packaged_incident_template_goes_the_full_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An install whose incident.md.j2 is not the one quickopen reproduces."""
    packaged = _packaged(tmp_path, monkeypatch)
    (packaged / "checklist-outage.md.j2").write_text("plain\n")
    assert quickopen._checklist(str(tmp_path), "outage") == "plain\n"
    (packaged / "incident.md.j2").write_text(quickopen.INCIDENT_TEMPLATE + "\nmore\n")
    with pytest.raises(quickopen._FullWay):
        quickopen._checklist(str(tmp_path), "outage")


def test_the_shipped_templates_are_the_ones_reproduced() -> None:
    folder = Path(quickopen._packaged_templates())
    assert (folder / "incident.md.j2").read_text(encoding="utf-8") == quickopen.INCIDENT_TEMPLATE
    for kind in TYPES:
        assert quickopen._checklist(str(folder.parent / "nowhere"), kind)


# -- the fast path against click, on copies of one repository ------------------------

Completed = subprocess.CompletedProcess[str]
_ID = re.compile(r"INC-\d{8}-[0-9a-z]{4}")
_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
ALERT = "@" + str(Path(__file__).resolve().parent / "fixtures" / "alerts" / "plain.json")


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> Completed:
    return subprocess.run(
        argv,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def _normal(text: str, since: datetime) -> str:
    """IDs, SHAs and the times of this run (the two sides' `now` differ) made alike."""

    def stamp(match: re.Match[str]) -> str:
        when = datetime.fromisoformat(match.group(0).replace("Z", "+00:00"))
        return "NOW" if when >= since else match.group(0)

    text = re.sub(r"\b[0-9a-f]{10,40}\b", "SHA", _ID.sub("INC-ID", text))
    return _STAMP.sub(stamp, text)


def _state(root: Path, since: datetime, before: int) -> dict[str, object]:
    """What a command left: every incident file, the commits it made, git status."""
    files = sorted(
        (_normal(str(p.relative_to(root)), since), _normal(p.read_text(encoding="utf-8"), since))
        for p in (root / "incidents").glob("*/*.md")
    )
    count = int(git(root, "rev-list", "--count", "HEAD"))
    commits = [
        _normal(git(root, "show", "--name-status", "--format=%an%n%B", f"HEAD~{n}"), since)
        for n in range(count - before)
    ]
    status = _normal(git(root, "status", "--porcelain"), since)
    return {"files": files, "commits": commits, "status": status}


def _cache_is_right(root: Path) -> int:
    """Every entry the cache holds for a file now there is what validating it gives
    (the same keys in the same order); how many files it holds."""
    fronts = FrontCache(str(root / ".git"), "fm")
    held = 0
    for path in sorted((root / "incidents").glob("*/*.md")):
        raw = path.read_bytes()
        cached = fronts.get(blob_id(raw))
        if isinstance(cached, dict):
            file = IncidentFile(raw.decode("utf-8"), str(path))
            expected = front_matter_json(file, validate(file))
            assert cached == expected and list(cached) == list(expected), path
            held += 1
    return held


def _same_as_click(
    repo: Repo, tmp_path: Path, argv: list[str], *, fast: list[str] | None = None
) -> tuple[Completed, set[str], Path]:
    """argv through the fast path (or the `fast` command) on one copy of the
    repository and through click on another: the same exit status, output, files,
    commits and git status. The fast side's result, the modules it loaded, its copy."""
    since = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(seconds=1)
    before = repo.commits()
    fast_root, slow_root = tmp_path / "fast", tmp_path / "slow"
    for root in (fast_root, slow_root):
        shutil.copytree(repo.path, root, symlinks=True)
    loaded = tmp_path / "loaded"
    env = {**os.environ, "LOADED": str(loaded)}
    done = _run([*(fast or [sys.executable, "-c", FAST]), *argv], fast_root, env)
    slow = _run([sys.executable, "-c", CLICK, *argv], slow_root)
    assert "Traceback" not in done.stderr + slow.stderr, done.stderr + slow.stderr
    said = [
        (r.returncode, _normal(r.stdout, since), _normal(r.stderr, since).replace(str(root), "R"))
        for r, root in ((done, fast_root), (slow, slow_root))
    ]
    assert said[0] == said[1]
    assert _state(fast_root, since, before) == _state(slow_root, since, before)
    _cache_is_right(fast_root)
    modules = set(loaded.read_text().split()) if loaded.exists() else set()
    return done, modules, fast_root


@pytest.fixture
def base(repo: Repo) -> Repo:
    """A repository with an incident in it and its cache of front matters filled."""
    repo.open("Checkout errors", "--severity", "SEV-2")
    assert _run([console_script(), "list", "--json"], repo.path).returncode == 0
    return repo


FAST_CASES = [
    ["open", "Checkout errors"],
    ["open", "Checkout errors", "--json"],
    [
        *("open", "Payments down", "-s", "critical", "-t", "security", "-e", "staging"),
        *("--service", "pay", "--service", "api", "-c", "Bob Builder"),
        *("--summary", "Cards fail\n## not a heading\n\n```\ncode\n<!--\n- [ ] x"),
    ],
    ["open", "Paiement échoué", "-t", "data", "--summary", "Zahlungen schlagen fehl"],
    ["open", "Disk full", "--no-commit"],
    ["open", "Disk full", "-s", "P3", "-t", "performance", "--no-notify"],
    ["open", "Login loop", "-t", "integration", "-e", "development", "--json", "--no-commit"],
    ["open", "Search is slow", "--severity=sev1", "--type=outage", "--commander=Dana"],
]


@pytest.mark.parametrize("args", FAST_CASES, ids=lambda a: " ".join(a)[:50])
def test_the_fast_path_does_what_click_does(base: Repo, tmp_path: Path, args: list[str]) -> None:
    """Same output, file, commit (subject, trailer) and cache, without click, Jinja2,
    the model or PyYAML; the next `status` finds the new file in the cache."""
    done, modules, root = _same_as_click(base, tmp_path, args)
    assert done.returncode == 0, done.stderr
    allowed = {"json", "re", "enum"} if "--json" in args else set()  # json imports re
    if not "".join(args).isascii():
        allowed.add("unicodedata")  # the file name's slug drops accents (NFKD)
    assert sorted(modules & (HEAVY - allowed)) == []
    assert _cache_is_right(root) == 2  # the new incident too
    ident = _ID.search(done.stdout)
    assert ident is not None
    after = _run(
        [sys.executable, "-c", FAST, "status", ident.group(0), "investigating"],
        root,
        {
            **os.environ,
            "LOADED": str(tmp_path / "after"),
        },
    )
    assert after.returncode == 0, after.stderr
    assert not set((tmp_path / "after").read_text().split()) & FULL_WAY


@pytest.mark.parametrize(
    "args",
    [
        ["open", "T", "-s", "SEV-9"],
        ["open", "Bidi \u202e title"],
        ["open", "T", "--service", ""],
        ["open", "   "],
        ["open", "T", "-c", "x" * 201],
        ["open", "T", "--summary", "a\x1b[2Jb"],
        ["open", "T", "--push"],  # committed; no remote, so the sync after it fails
    ],
    ids=lambda a: " ".join(a)[:40],
)
def test_bad_input_gets_the_same_one_line_error(
    base: Repo, tmp_path: Path, args: list[str]
) -> None:
    done, modules, _ = _same_as_click(base, tmp_path, args)
    assert done.returncode == 1 and done.stderr.startswith("Error: ")
    assert done.stderr.count("\n") == 1
    assert not modules & FULL_WAY


@pytest.mark.parametrize(
    "args",
    [
        ["open", "API: 500s"],
        ["open", "yes"],
        ["open", "#1 down"],
        ["open", "'quoted'"],
        ["open", "500s from the API"],
        ["open", "Ошибка оплаты", "--json"],
        ["open", "T", "-c", "Bob: on call"],
        ["open", "T", "--service", "null"],
    ],
    ids=lambda a: " ".join(a)[:40],
)
def test_values_that_need_quotes_go_the_full_way(
    base: Repo, tmp_path: Path, args: list[str]
) -> None:
    """A title, commander or service PyYAML writes in quotes (or that quickopen does
    not know to be plain): lifecycle.new writes it, to the same bytes."""
    done, modules, _ = _same_as_click(base, tmp_path, args)
    assert done.returncode == 0, done.stderr
    assert modules >= FULL_WAY and "click" not in modules


@pytest.mark.parametrize(
    ("args", "status"),
    [
        (["open", "Backfilled", "--at", "2025-06-01T10:00:00Z"], 0),
        (
            [
                "open",
                "Seen",
                "--detected-at",
                "2025-06-01T10:00:00Z",
                "--started-at",
                "2025-06-01T09:00:00Z",
            ],
            0,
        ),
        (["open", "--alert-payload", ALERT, "--json"], 0),
        (["open", "Marked", "--manual-incident"], 0),
        (["open"], 2),  # no title and no terminal: click's usage error
        (["open", "T", "-t", "bogus"], 2),  # not one of click's choices
        (["open", "T", "--env", "prod"], 2),
        (["open", "T", "--no-dedupe"], 2),
    ],
    ids=lambda a: " ".join(a)[:40] if isinstance(a, list) else str(a),
)
def test_the_other_forms_are_clicks(
    base: Repo, tmp_path: Path, args: list[str], status: int
) -> None:
    """The fast path leaves them alone; the console script then gives click's result."""
    handled = _run(
        [sys.executable, "-c", FAST, *args], base.path, {**os.environ, "LOADED": os.devnull}
    )
    assert handled.returncode == 3, handled.stderr  # not taken: nothing done
    done, _, _ = _same_as_click(base, tmp_path, args, fast=[console_script()])
    assert done.returncode == status, done.stderr


@pytest.mark.parametrize("name", ["incident.md.j2", "checklist-outage.md.j2"])
def test_a_template_of_the_repositorys_own_renders_with_jinja2(
    base: Repo, tmp_path: Path, name: str
) -> None:
    own = base.path / "templates" / name
    own.parent.mkdir()
    own.write_text("# {{ incident.title }}\n\nOur own {{ incident.type }} page.\n")
    base.git("add", "templates")
    base.git("commit", "--quiet", "-m", "our own template")
    done, modules, root = _same_as_click(base, tmp_path, ["open", "Disk full"])
    assert done.returncode == 0 and "jinja2" in modules
    assert "Our own outage page." in next(root.glob("incidents/*/*disk-full.md")).read_text()


def test_the_commander_on_call(base: Repo, tmp_path: Path) -> None:
    """No --commander: who the rota has on call, as lifecycle.new picks."""
    (base.path / "incidentctl.toml").write_text(
        '[oncall]\nrotation = ["Dana Oncall", "Eve Oncall"]\nstart = 2026-01-05T09:00:00Z\n'
    )
    base.git("add", "incidentctl.toml")
    base.git("commit", "--quiet", "-m", "a rota")
    done, modules, _ = _same_as_click(base, tmp_path, ["open", "Disk full", "--json"])
    assert done.returncode == 0 and "Oncall" in done.stdout
    assert not modules & FULL_WAY


def test_refused_while_git_is_busy(base: Repo, tmp_path: Path) -> None:
    (base.path / ".git" / "MERGE_HEAD").write_text(git(base.path, "rev-parse", "HEAD"))
    done, _, _ = _same_as_click(base, tmp_path, ["open", "Disk full"])
    assert done.returncode == 1 and "a merge is in progress" in done.stderr
    done = _run([console_script(), "open", "Disk full", "--no-commit"], base.path)
    assert done.returncode == 0, done.stderr


def test_what_it_writes_passes_check_and_show(base: Repo) -> None:
    done = _run([console_script(), "open", "Disk full", "-t", "security", "--json"], base.path)
    assert done.returncode == 0, done.stderr
    ident = _ID.search(done.stdout)
    assert ident is not None
    check = _run([console_script(), "check"], base.path)
    assert check.returncode == 0, check.stdout + check.stderr
    shown = _run([console_script(), "show", ident.group(0), "--json"], base.path)
    slow = _run([sys.executable, "-c", CLICK, "show", ident.group(0), "--json"], base.path)
    assert shown.returncode == 0 and shown.stdout == slow.stdout
    assert '"visibility": "restricted"' in shown.stdout


def test_two_opens_at_once_both_land(base: Repo) -> None:
    """The repository lock serialises them: two files, two commits, nothing left over."""
    before = base.commits()
    barrier = threading.Barrier(2)
    results: list[Completed] = []

    def one(title: str) -> None:
        barrier.wait()
        results.append(_run([console_script(), "open", title], base.path))

    threads = [threading.Thread(target=one, args=(t,)) for t in ("Disk full", "Queue stuck")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.returncode for r in results] == [0, 0], [r.stderr for r in results]
    assert base.commits() == before + 2
    assert len(list(base.path.glob("incidents/*/*.md"))) == 3
    assert base.git("status", "--porcelain") == ""
    subjects = base.git("log", "-2", "--format=%s").split("\n")
    assert sorted(s.split(": ", 1)[1] for s in subjects if s) == [
        "open SEV-3: Disk full",
        "open SEV-3: Queue stuck",
    ]


def _on_a_terminal(argv: list[str], cwd: Path) -> tuple[int, str]:
    """argv with stdout on a terminal (and NO_COLOR unset): its exit status and output."""
    import pty

    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env["LOADED"] = os.devnull
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.PIPE
    )
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the other end is closed
            break
        if not chunk:
            break
        out += chunk
    proc.wait()
    os.close(master)
    return proc.returncode, out.decode("utf-8")


def test_on_a_terminal_the_colours_are_clicks(base: Repo, tmp_path: Path) -> None:
    since = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(seconds=1)
    for side in ("fast", "slow"):
        shutil.copytree(base.path, tmp_path / side, symlinks=True)
    fast = _on_a_terminal([sys.executable, "-c", FAST, "open", "Disk full"], tmp_path / "fast")
    slow = _on_a_terminal([sys.executable, "-c", CLICK, "open", "Disk full"], tmp_path / "slow")
    assert fast[0] == 0 and "\x1b[31m\x1b[1mSEV-3\x1b[0m" in fast[1]
    assert _normal(fast[1], since) == _normal(slow[1], since)


def test_paint_is_click_style(monkeypatch: pytest.MonkeyPatch) -> None:
    import click

    from incidentctl import output

    monkeypatch.setattr(output, "colour_enabled", lambda: True)
    for kwargs in ({"bold": True}, {"fg": "red", "bold": True}, {"fg": "green"}, {}):
        assert output.paint("SEV-1 \x1b", **kwargs) == click.style("SEV-1 \\x1b", **kwargs)
    assert output.paint("x", fg="red") != "x"
