"""`check` output, exactly: JSON, GitHub annotations and job summary, and --changed-since."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import Repo

from incidentctl.incident.rules import ERROR, WARNING, Problem
from incidentctl.review.annotations import (
    SUMMARY_LIMIT,
    annotation_lines,
    emit,
    escape_data,
    escape_property,
    log_lines,
    summary_markdown,
)
from incidentctl.review.check import Report

BASE = """\
---
id: {id}
title: Queue backlog
status: monitoring
severity: SEV-3
opened_at: 2026-03-01T10:00:00Z
acknowledged_at: 2026-03-01T10:05:00Z
mitigated_at: 2026-03-01T10:30:00Z
action_items: []
---

# Queue backlog

## Summary

Jobs waited in the queue for 30 minutes.

## Timeline

- `2026-03-01T10:00:00Z` **Bob** _(opened)_ Opened.
"""


def incident(ident: str, replace: dict[str, str] | None = None) -> str:
    """BASE with this ID and the given replacements (each must apply)."""
    text = BASE.format(id=ident)
    for old, new in (replace or {}).items():
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def put(repo: Repo, rel: str, text: str) -> str:
    target = repo.file(rel)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return rel


LATE_MITIGATION = BASE.format(id="INC-20260301-abcd").replace(
    "mitigated_at: 2026-03-01T10:30", "mitigated_at: 2026-03-01T10:01"
)
A = "incidents/2026/INC-20260301-abcd-queue-backlog.md"
B = "incidents/2025/INC-20260302-efgh-disk-full.md"


def two_problems(repo: Repo) -> None:
    """One error (timestamps out of order) and one warning (wrong year folder)."""
    put(repo, A, LATE_MITIGATION)
    put(repo, B, BASE.format(id="INC-20260302-efgh"))


# -- JSON ---------------------------------------------------------------------------------------


def test_json_output_exactly(repo: Repo) -> None:
    """`--format json` is exactly the SPEC shape (plus level and checked) for two problems."""
    two_problems(repo)
    result = repo.run("check", "--format", "json")
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {
        "ok": False,
        "problems": [
            {
                "path": B,
                "line": 6,
                "rule": "year-folder",
                "message": "opened in 2026 but filed under 2025/",
                "level": "warning",
            },
            {
                "path": A,
                "line": 8,
                "rule": "timestamp-order",
                "message": "mitigated_at (2026-03-01T10:01:00Z) is before acknowledged_at "
                "(2026-03-01T10:05:00Z)",
                "level": "error",
            },
        ],
        "checked": [B, A],
    }
    assert result.stderr == ""


def test_json_output_clean(repo: Repo) -> None:
    """A clean repository gives ok true, no problems, and exit 0."""
    put(repo, A, BASE.format(id="INC-20260301-abcd"))
    result = repo.run("check", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"ok": True, "problems": [], "checked": [A]}


def test_text_output_exactly(repo: Repo) -> None:
    """The text format: one `path:line: rule: message` line per problem, a count on stderr."""
    two_problems(repo)
    result = repo.run("check")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{B}:6: year-folder (warning): opened in 2026 but filed under 2025/",
        f"{A}:8: timestamp-order: mitigated_at (2026-03-01T10:01:00Z) is before "
        "acknowledged_at (2026-03-01T10:05:00Z)",
    ]
    assert result.stderr == "2 file(s) checked: 1 error(s), 1 warning(s).\n"


# -- GitHub annotations -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "data", "prop"),
    [
        ("plain text", "plain text", "plain text"),
        ("100%", "100%25", "100%25"),
        ("a\nb", "a%0Ab", "a%0Ab"),
        ("a\r\nb", "a%0D%0Ab", "a%0D%0Ab"),
        ("a:b,c", "a:b,c", "a%3Ab%2Cc"),
        ("%0A", "%250A", "%250A"),
        ("::error::x", "::error::x", "%3A%3Aerror%3A%3Ax"),
        ("dir/f,1%:2.md", "dir/f,1%25:2.md", "dir/f%2C1%25%3A2.md"),
        ("", "", ""),
    ],
)
def test_escaping(value: str, data: str, prop: str) -> None:
    """Data escapes %, CR and LF; properties also escape `:` and `,` (and % comes first)."""
    assert escape_data(value) == data
    assert escape_property(value) == prop


ODD_KEY = "odd\\r\\nkey%,: |<b>"  # as written in YAML (double-quoted), with CR LF
ODD_KEY_VALUE = "odd\r\nkey%,: |<b>"
ODD_PATH = "incidents/2026/INC-20260301-abcd-a,b%c:d.md"


def odd_repo(repo: Repo) -> None:
    """A file whose name holds `,%:` and whose problem messages hold CR LF, %, | and <."""
    text = BASE.format(id="INC-20260301-abcd").replace("---\n", f'---\n"{ODD_KEY}": 1\n', 1)
    put(repo, ODD_PATH, text)
    put(repo, B, BASE.format(id="INC-20260302-efgh"))


def test_github_output_exactly(repo: Repo, tmp_path: Path) -> None:
    """Annotations escape properties and data; the log is fenced by one random token."""
    odd_repo(repo)
    summary = tmp_path / "summary.md"
    result = repo.run("check", "--format", "github", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    token = re.fullmatch(r"::stop-commands::([0-9a-f]{32})", lines[3])
    assert token, lines
    message = (
        f"`{ODD_KEY_VALUE}` is not a known key; fix the spelling, or prefix custom keys with x-"
    )
    hidden = (
        "holds the control character U+000D (\\r); "
        "remove it: it can hide or reorder text, or act on a terminal"
    )
    assert lines == [
        "::error file=incidents/2026/INC-20260301-abcd-a%2Cb%25c%3Ad.md,line=2,"
        "title=incidentctl control-character::the key `odd%0D%0Akey%25,: |<b>` " + hidden,
        "::error file=incidents/2026/INC-20260301-abcd-a%2Cb%25c%3Ad.md,line=2,"
        "title=incidentctl schema::`odd%0D%0Akey%25,: |<b>` is not a known key; "
        "fix the spelling, or prefix custom keys with x-",
        f"::warning file={B},line=6,title=incidentctl year-folder::"
        "opened in 2026 but filed under 2025/",
        f"::stop-commands::{token.group(1)}",
        f"{B}:6: year-folder (warning): opened in 2026 but filed under 2025/",
        f"{ODD_PATH}:2: control-character: the key `odd\\r\\nkey%,: |<b>` " + hidden,
        f"{ODD_PATH}:2: schema: " + message.replace("\r", "\\r").replace("\n", "\\n"),
        f"::{token.group(1)}::",
    ]
    assert summary.read_text(encoding="utf-8") == (
        "## incidentctl check failed\n"
        "\n"
        "2 incident file(s) checked: 2 error(s), 1 warning(s).\n"
        "\n"
        "| File | Line | Rule | Level | Problem |\n"
        "| --- | --- | --- | --- | --- |\n"
        f"| `{B}` | 6 | year-folder | warning | opened in 2026 but filed under 2025/ |\n"
        f"| `{ODD_PATH}` | 2 | control-character | error | the key `odd key%,: &#124;&lt;b&gt;` "
        + hidden
        + " |\n"
        f"| `{ODD_PATH}` | 2 | schema | error | `odd key%,: &#124;&lt;b&gt;` is not a known key; "
        "fix the spelling, or prefix custom keys with x- |\n"
    )


def test_github_token_is_fresh_each_run(repo: Repo) -> None:
    """The stop-commands token is random: two runs never share it, so text cannot guess it."""
    two_problems(repo)
    tokens = set()
    for _ in range(2):
        out = repo.run("check", "--format", "github").stdout
        found = re.findall(r"^::stop-commands::(\w+)$", out, re.M)
        assert len(found) == 1
        assert f"\n::{found[0]}::\n" in out
        tokens.add(found[0])
    assert len(tokens) == 2


def test_github_clean_output(repo: Repo, tmp_path: Path) -> None:
    """A clean run prints no annotation, a fenced 'no problems', and a passing summary."""
    put(repo, A, BASE.format(id="INC-20260301-abcd"))
    summary = tmp_path / "summary.md"
    result = repo.run("check", "--format", "github", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    token = lines[0].removeprefix("::stop-commands::")
    assert lines == [f"::stop-commands::{token}", "no problems", f"::{token}::"]
    assert summary.read_text(encoding="utf-8") == (
        "## incidentctl check passed\n\n1 incident file(s) checked: 0 error(s), 0 warning(s).\n\n"
    )


def test_cap_of_ten_per_level(repo: Repo, tmp_path: Path) -> None:
    """13 errors and 12 warnings: 10 `::error`, 10 `::warning`, one notice of 5 more; all logged."""
    for n in range(13):
        ident = f"INC-20260301-e{n:03d}"
        put(repo, f"incidents/2026/{ident}.md", incident(ident, {"severity: SEV-3": "severity: 9"}))
    for n in range(12):
        ident = f"INC-20260301-w{n:03d}"
        put(repo, f"incidents/2025/{ident}.md", incident(ident))
    summary = tmp_path / "summary.md"
    result = repo.run("check", "--format", "github", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert sum(line.startswith("::error ") for line in lines) == 10
    assert sum(line.startswith("::warning ") for line in lines) == 10
    notices = [line for line in lines if line.startswith("::notice")]
    assert notices == [
        "::notice title=incidentctl check::5 more problems not shown as annotations; "
        "see the job summary"
    ]
    logged = [line for line in lines if re.match(r"incidents/\d{4}/INC-", line)]
    assert len(logged) == 25
    rows = [line for line in summary.read_text(encoding="utf-8").splitlines() if "| `" in line]
    assert len(rows) == 25


def problem(n: int, level: str = ERROR, message: str = "broken") -> Problem:
    return Problem(f"incidents/2026/INC-20260301-{n:04d}.md", n + 1, "schema", message, level)


@pytest.mark.parametrize(
    ("errors", "warnings", "shown", "notice"),
    [
        (0, 0, (0, 0), None),
        (10, 10, (10, 10), None),
        (11, 0, (10, 0), "1 more problem not shown"),
        (0, 11, (0, 10), "1 more problem not shown"),
        (13, 12, (10, 10), "5 more problems not shown"),
        (3, 40, (3, 10), "30 more problems not shown"),
    ],
)
def test_annotation_cap_table(
    errors: int, warnings: int, shown: tuple[int, int], notice: str | None
) -> None:
    """At most 10 annotations per level, then exactly one notice counting the rest."""
    probs = [problem(n) for n in range(errors)]
    probs += [problem(100 + n, WARNING) for n in range(warnings)]
    lines = annotation_lines(Report(probs, []))
    assert (
        sum(line.startswith("::error ") for line in lines),
        sum(line.startswith("::warning ") for line in lines),
    ) == shown
    notices = [line for line in lines if line.startswith("::notice ")]
    if notice is None:
        assert notices == []
    else:
        assert len(notices) == 1
        assert notice + " as annotations" in notices[0]
    assert len(lines) == sum(shown) + len(notices)


def test_log_lines_are_fenced_and_one_per_problem() -> None:
    """The log holds one line per problem between `::stop-commands::T` and `::T::`."""
    report = Report([problem(1, message="a\n::error::pwned"), problem(2)], [])
    assert log_lines(report, "tok") == [
        "::stop-commands::tok",
        "incidents/2026/INC-20260301-0001.md:2: schema: a\\n::error::pwned",
        "incidents/2026/INC-20260301-0002.md:3: schema: broken",
        "::tok::",
    ]


# -- the job summary ----------------------------------------------------------------------------


def test_summary_is_appended(repo: Repo, tmp_path: Path) -> None:
    """What earlier steps wrote to $GITHUB_STEP_SUMMARY stays; the report comes after it."""
    two_problems(repo)
    summary = tmp_path / "summary.md"
    summary.write_text("# Earlier step\n\nkept\n", encoding="utf-8")
    repo.run("check", "--format", "github", env={"GITHUB_STEP_SUMMARY": str(summary)})
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("# Earlier step\n\nkept\n## incidentctl check failed\n")
    assert text.count("## incidentctl check") == 1
    repo.run("check", "--format", "github", env={"GITHUB_STEP_SUMMARY": str(summary)})
    again = summary.read_text(encoding="utf-8")
    assert again.startswith(text)
    assert again.count("## incidentctl check failed") == 2


def test_no_summary_without_the_variable(repo: Repo, tmp_path: Path) -> None:
    """Without GITHUB_STEP_SUMMARY nothing is written anywhere but stdout."""
    two_problems(repo)
    result = repo.run("check", "--format", "github", env={"GITHUB_STEP_SUMMARY": ""})
    assert result.exit_code == 1
    assert "## incidentctl check" not in result.stdout
    assert not list(tmp_path.glob("*.md"))


def test_summary_cells_escape_pipes_and_html() -> None:
    """A table cell cannot break the table or inject HTML: `|` and `<` are escaped."""
    report = Report([problem(1, message="a | b <script>alert(1)</script> & c\nd")], ["x.md"])
    text = summary_markdown(report)
    row = [line for line in text.splitlines() if line.startswith("| `")]
    assert row == [
        "| `incidents/2026/INC-20260301-0001.md` | 2 | schema | error | "
        "a &#124; b &lt;script&gt;alert(1)&lt;/script&gt; &amp; c d |"
    ]
    assert row[0].count("|") == 6


def test_summary_stays_under_one_mib_with_20000_problems() -> None:
    """20,000 long problems: the summary is cut under 1 MiB and says how many were left out."""
    probs = [problem(n, message="x" * 200) for n in range(20_000)]
    text = summary_markdown(Report(probs, ["a.md"]))
    size = len(text.encode("utf-8"))
    assert SUMMARY_LIMIT - 2_000 < size <= SUMMARY_LIMIT
    rows = sum(line.startswith("| `") for line in text.splitlines())
    left = re.search(
        r"_(\d+) more problem\(s\) not shown: the summary is limited to 1 MiB\._", text
    )
    assert left, text[-300:]
    assert rows + int(left.group(1)) == 20_000
    assert text.startswith(
        "## incidentctl check failed\n\n1 incident file(s) checked: 20000 error(s)"
    )


def test_summary_fits_what_is_left_of_the_file(tmp_path: Path) -> None:
    """An already large summary file is topped up only to 1 MiB in total."""
    summary = tmp_path / "summary.md"
    summary.write_bytes(b"x" * (SUMMARY_LIMIT - 10_000))
    probs = [problem(n, message="y" * 200) for n in range(1_000)]
    echoed: list[str] = []
    emit(Report(probs, ["a.md"]), echoed.append, str(summary))
    assert SUMMARY_LIMIT - 1_000 < summary.stat().st_size <= SUMMARY_LIMIT
    assert summary.read_bytes().startswith(b"x" * (SUMMARY_LIMIT - 10_000) + b"## incidentctl")
    assert sum(line.startswith("::error ") for line in echoed) == 10


# -- --changed-since with a real branch ---------------------------------------------------------


def new_incident(repo: Repo, title: str, severity: str, status: str | None = None) -> str:
    data = repo.open(title, "--severity", severity)
    if status:
        repo.ok("status", data["id"], status)
    return str(data["path"])


def test_changed_since_checks_only_the_branch(repo: Repo) -> None:
    """Against the merge base with main: only the branch's incidents are checked."""
    old_bad = new_incident(repo, "Old outage", "SEV-2", "resolved")
    assert repo.run("check").exit_code == 1
    repo.git("checkout", "--quiet", "-b", "feature")
    good = new_incident(repo, "Small glitch", "SEV-4")

    # main moves on after the branch point: a two-dot diff would see the old file changed
    repo.git("checkout", "--quiet", "main")
    old_id = Path(old_bad).name[:17]
    repo.ok("log", old_id, "A note added on main after the branch point")
    repo.git("checkout", "--quiet", "feature")

    result = repo.run("check", "--changed-since", "main", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["checked"] == [good]
    assert json.loads(result.stdout)["ok"] is True

    bad = new_incident(repo, "New outage", "SEV-2", "resolved")
    result = repo.run("check", "--changed-since", "main", "--format", "json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert sorted(doc["checked"]) == sorted([good, bad])
    assert {p["path"] for p in doc["problems"]} == {bad}
    assert {p["rule"] for p in doc["problems"]} == {"postmortem-section", "postmortem-placeholder"}

    untracked = "incidents/2026/INC-20260301-zzzz-draft.md"
    put(repo, untracked, "not front matter\n")
    doc = json.loads(repo.run("check", "--changed-since", "main", "--format", "json").stdout)
    assert untracked in doc["checked"]
    assert {p["path"] for p in doc["problems"]} == {bad, untracked}

    paths = repo.run("check", str(repo.file(good)), "--changed-since", "main", "--format", "json")
    assert paths.exit_code == 0
    assert json.loads(paths.stdout)["checked"] == [good]


def test_changed_since_with_nothing_changed(repo: Repo) -> None:
    """On main itself nothing changed since main: nothing checked, exit 0, even with a bad file."""
    new_incident(repo, "Old outage", "SEV-2", "resolved")
    result = repo.run("check", "--changed-since", "main", "--format", "json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert (doc["ok"], doc["problems"], doc["checked"], doc["notices"]) == (True, [], [], [])


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("no-such-branch", "unknown revision 'no-such-branch'"),
        ("--output=/tmp/incidentctl-pwned", "cannot start with '-'"),
        ("-p", "cannot start with '-'"),
    ],
)
def test_changed_since_bad_ref(repo: Repo, ref: str, message: str) -> None:
    """An unknown ref, or one that git would read as an option, is a clean error (exit 1)."""
    new_incident(repo, "Old outage", "SEV-4")
    result = repo.run("check", f"--changed-since={ref}")
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert not Path("/tmp/incidentctl-pwned").exists()


# -- --changed-since: the policy of REF ---------------------------------------------------------

CLOSED_SEV1 = incident(
    "INC-20260303-wxyz",
    {
        "status: monitoring": "status: closed",
        "severity: SEV-3": "severity: SEV-1",
        "mitigated_at: 2026-03-01T10:30:00Z": "mitigated_at: 2026-03-01T10:30:00Z\n"
        "resolved_at: 2026-03-01T11:00:00Z\nclosed_at: 2026-03-02T09:00:00Z",
    },
)
SEV1_NAME = "INC-20260303-wxyz-queue-backlog.md"


def policy_pr(
    repo: Repo, base_toml: str | None, pr_toml: str | None, folder: str, severity: str = "SEV-1"
) -> str:
    """main with `base_toml`; branch `pr` adds a closed incident (SEV-1 unless told) without a
    post-mortem under `folder` and sets incidentctl.toml to `pr_toml` (None: deletes it)."""
    if base_toml is not None:
        repo.file("incidentctl.toml").write_text(base_toml, encoding="utf-8")
        repo.git("add", "incidentctl.toml")
        repo.git("commit", "--quiet", "-m", "policy")
    repo.git("checkout", "--quiet", "-b", "pr")
    rel = put(repo, f"{folder}/2026/{SEV1_NAME}", CLOSED_SEV1.replace("SEV-1", severity))
    if pr_toml is None:
        repo.git("rm", "--quiet", "incidentctl.toml")
    else:
        repo.file("incidentctl.toml").write_text(pr_toml, encoding="utf-8")
    repo.git("add", "-A")
    repo.git("commit", "--quiet", "-m", "Close the SEV-1, relax the policy")
    return rel


STRICT = "[severities.SEV-3]\npostmortem = true\n"  # for a SEV-3: the defaults need none
WEAKENINGS = [
    pytest.param(
        None, "[severities.SEV-1]\npostmortem = false\n", "incidents", "SEV-1", id="postmortem"
    ),
    pytest.param(
        None, "[postmortem]\nrequired_sections = []\n", "incidents", "SEV-1", id="no-sections"
    ),
    pytest.param(
        None,
        '[severities.SEV-1]\nsections = ["Summary"]\n',
        "incidents",
        "SEV-1",
        id="own-sections",
    ),
    pytest.param(
        '[postmortem]\nplaceholder_pattern = "TODO"\nrequired_sections = ["Summary", "Impact"]\n',
        '[postmortem]\nplaceholder_pattern = "NEVER"\nrequired_sections = ["Summary"]\n',
        "incidents",
        "SEV-1",
        id="placeholder",
    ),
    pytest.param(
        None, 'incidents_dir = "elsewhere"\n', "incidents", "SEV-1", id="incidents-dir-away"
    ),
    pytest.param(
        None,
        'incidents_dir = "records"\n[severities.SEV-1]\npostmortem = false\n',
        "records",
        "SEV-1",
        id="incidents-dir-moved",
    ),
    pytest.param(STRICT, None, "incidents", "SEV-3", id="deleted"),
    pytest.param(STRICT, "# nothing\n", "incidents", "SEV-3", id="emptied"),
]


@pytest.mark.parametrize(("base_toml", "pr_toml", "folder", "severity"), WEAKENINGS)
def test_a_pull_request_cannot_relax_its_own_check(
    repo: Repo, base_toml: str | None, pr_toml: str | None, folder: str, severity: str
) -> None:
    """A PR closing a SEV-1 without a post-mortem that also weakens incidentctl.toml still fails
    --changed-since (the policy of REF applies, with a notice); --policy-from-worktree passes."""
    rel = policy_pr(repo, base_toml, pr_toml, folder, severity)
    commit = repo.git("rev-parse", "main").strip()

    result = repo.run("check", "--changed-since", "main", "--format", "json")
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    assert doc["ok"] is False
    assert doc["checked"] == [rel]
    assert "closed-postmortem" in {p["rule"] for p in doc["problems"]}
    assert doc["policy"] == {"from": "ref", "ref": "main", "commit": commit, "edited": True}
    assert len(doc["notices"]) == 1
    assert "edits incidentctl.toml" in doc["notices"][0]
    assert "rules of main" in doc["notices"][0]

    relaxed = repo.run(
        "check", "--changed-since", "main", "--policy-from-worktree", "--format", "json"
    )
    assert relaxed.exit_code == 0, relaxed.output
    doc = json.loads(relaxed.stdout)
    assert doc["policy"] == {"from": "worktree", "ref": None, "commit": None, "edited": True}
    assert "--policy-from-worktree" in doc["notices"][0]


def test_policy_of_ref_in_text_and_github_formats(repo: Repo, tmp_path: Path) -> None:
    """Text says which policy applied and prints the notice; github adds a ::notice:: and puts
    both in the job summary."""
    policy_pr(repo, None, "[severities.SEV-1]\npostmortem = false\n", "incidents")
    commit = repo.git("rev-parse", "main").strip()

    text = repo.run("check", "--changed-since", "main")
    assert text.exit_code == 1
    assert "closed-postmortem" in text.stdout
    assert f"policy: incidentctl.toml as of main ({commit[:12]})\n" in text.stderr
    assert (
        "notice: this change edits incidentctl.toml; it was checked against the rules of main"
        in (text.stderr)
    )

    summary = tmp_path / "summary.md"
    gh = repo.run(
        "check", "--changed-since", "main", "--format", "github",
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )  # fmt: skip
    assert gh.exit_code == 1
    notices = [line for line in gh.stdout.splitlines() if line.startswith("::notice ")]
    assert notices == [
        "::notice title=incidentctl policy::this change edits incidentctl.toml; it was checked "
        "against the rules of main, and its new rules apply only once it is merged"
    ]
    assert f"policy: incidentctl.toml as of main ({commit[:12]})" in gh.stdout
    report = summary.read_text(encoding="utf-8")
    assert f"Policy: incidentctl.toml as of main ({commit[:12]}).\n" in report
    assert "> **Notice:** this change edits incidentctl.toml;" in report


def test_policy_unchanged_gives_no_notice(repo: Repo) -> None:
    """A PR that leaves incidentctl.toml alone is checked by REF's rules without a notice; a
    missing file at REF means the defaults."""
    repo.git("checkout", "--quiet", "-b", "pr")
    rel = put(repo, f"incidents/2026/{SEV1_NAME}", CLOSED_SEV1)
    result = repo.run("check", "--changed-since", "main", "--format", "json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["checked"] == [rel]
    assert doc["policy"]["edited"] is False
    assert doc["notices"] == []
    text = repo.run("check", "--changed-since", "main")
    assert "notice:" not in text.stderr
    assert "policy: incidentctl.toml as of main" in text.stderr


def test_policy_of_main_moving_on_applies(repo: Repo) -> None:
    """When main tightens its policy after the branch point, the branch is held to it (and the
    branch did not edit the policy: no notice)."""
    repo.git("checkout", "--quiet", "-b", "pr")
    rel = put(repo, A, BASE.format(id="INC-20260301-abcd").replace("status: monitoring",
              "status: resolved\nresolved_at: 2026-03-01T11:00:00Z"))  # fmt: skip
    repo.git("add", "-A")
    repo.git("commit", "--quiet", "-m", "A resolved SEV-3")
    assert repo.run("check", "--changed-since", "main").exit_code == 0
    repo.git("checkout", "--quiet", "main")
    repo.file("incidentctl.toml").write_text("[severities.SEV-3]\npostmortem = true\n")
    repo.git("add", "incidentctl.toml")
    repo.git("commit", "--quiet", "-m", "SEV-3 needs a post-mortem now")
    repo.git("checkout", "--quiet", "pr")
    result = repo.run("check", "--changed-since", "main", "--format", "json")
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    assert {p["path"] for p in doc["problems"]} == {rel}
    assert doc["notices"] == []


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        ("", ["--policy-from-worktree"], "--policy-from-worktree goes with --changed-since"),
        ("incidents_dir = 3\n", ["--changed-since", "main"], "the policy of main is not valid"),
        ("incidents_dir = '../x'\n", ["--changed-since", "main"], "the policy of main is not"),
    ],
)
def test_policy_errors(repo: Repo, setup: str, args: list[str], message: str) -> None:
    """An invalid incidentctl.toml at REF, or --policy-from-worktree alone: one line, exit 1."""
    if setup:
        repo.file("incidentctl.toml").write_text(setup, encoding="utf-8")
        repo.git("add", "incidentctl.toml")
        repo.git("commit", "--quiet", "-m", "bad policy")
        repo.git("checkout", "--quiet", "-b", "pr")
        repo.file("incidentctl.toml").unlink()  # the PR's own file is fine
        repo.git("commit", "--quiet", "-am", "fix")
    result = repo.run("check", *args)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output
