"""`site build`: the static site and the public status page, built from real repositories.

What the pages hold, that text is escaped and runs nothing, that the public status page
leaks nothing internal (planted canaries in every internal place, every output file
scanned), the build manifest and incremental rebuilds, status.json and feed.xml.
"""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import Repo, git, tool

from incidentctl.history.site import public
from incidentctl.history.site.build import build_site
from incidentctl.history.site.markup import is_safe_url, render, split_body
from incidentctl.history.site.output import MANIFEST
from incidentctl.repo.incidents import IncidentRepo

ATOM = "{http://www.w3.org/2005/Atom}"
FIXTURES_ALERTS = Path(__file__).parent / "fixtures" / "alerts"
SCRIPT_TITLE = "<script>window.pwned = 1</script> Payments <b>degraded</b> {{ 7*7 }}"
# Planted where only the internal site may show them (or nowhere at all): none may
# appear in any file of the public build.
CANARIES = [
    "CANARY-INTERNAL-TITLE",
    "CANARY-INTERNAL-SUMMARY",
    "canary-internal-svc",
    "CANARY-RESTRICTED-TITLE",
    "canary-restricted-svc",
    "CANARY-CANCELLED-TITLE",
    "CANARY-PUBLIC-SUMMARY",
    "CANARY-NOTE",
    "CANARY-COMMS",
    "CANARY-DECISION",
    "CANARY-ACTION-ITEM",
    "CANARY-POSTMORTEM",
    "CANARY-PAYLOAD",
    "canary-link-host",
    "CANARY-MAINT-INTERNAL",
    "canary-maint-svc",
    "CanaryCommander",
    "CanaryComms",
    "CanaryAuthor",
    "CanaryOwner",
    "canary-author@",
    "canary-mail@",
    "Alice Responder",
    "alice@example.com",
]


def ident(repo: Repo, title: str, *args: str) -> str:
    data = repo.open(title, *args)
    return str(data["id"])


def path_of(repo: Repo, incident: str) -> Path:
    return repo.path / str(repo.json("show", incident)["path"])


def make_public(repo: Repo, incident: str, visibility: str = "public") -> None:
    """Set `visibility` by hand (as a person would) and commit."""
    file = path_of(repo, incident)
    text = file.read_text(encoding="utf-8")
    file.write_text(text.replace("visibility: internal", f"visibility: {visibility}", 1))
    repo.git("commit", "--quiet", "-am", f"{incident}: visibility {visibility}")


def append(repo: Repo, incident: str, text: str, message: str = "edit") -> None:
    file = path_of(repo, incident)
    file.write_text(file.read_text(encoding="utf-8") + text, encoding="utf-8")
    repo.git("commit", "--quiet", "-am", message)


def leak_fixture(repo: Repo) -> dict[str, str]:
    """A repository with public incidents whose every internal part holds a canary,
    and internal, restricted and cancelled incidents that must not appear at all."""
    repo.git("config", "user.name", "Xavier CanaryAuthor")
    repo.git("config", "user.email", "canary-author@corp.example")
    ids: dict[str, str] = {}
    ids["public"] = ident(
        repo,
        "Checkout is slow for some customers",
        "--severity", "SEV-2", "--service", "checkout", "--at", "3h",
        "--commander", "Zed CanaryCommander", "--summary", "CANARY-PUBLIC-SUMMARY in the summary",
    )  # fmt: skip
    pub = ids["public"]
    repo.ok("assign", pub, "--role", "comms=Yara CanaryComms")
    repo.ok("log", pub, "CANARY-NOTE db-7 pool exhausted", "--at", "170m")
    repo.ok("log", pub, "We are looking into slow checkouts.", "--kind", "public", "--at", "160m")
    repo.ok("status", pub, "identified", "-m", "CANARY-NOTE the pool size", "--at", "150m")
    repo.ok("log", pub, "CANARY-DECISION roll back", "--kind", "decision", "--at", "140m")
    repo.ok(
        "log", pub,
        "Zed CanaryCommander says: mail canary-mail@corp.example or see "
        "https://canary-link-host.corp.example/d/1 for details",
        "--kind", "public", "--at", "130m",
    )  # fmt: skip
    # A `comms` entry records a notice to an internal group: it stays internal.
    repo.ok(
        "log", pub, "CANARY-COMMS Notice (update) sent to execs via leadership",
        "--kind", "comms", "--at", "125m",
    )  # fmt: skip
    repo.ok("status", pub, "monitoring", "-m", "fixed", "--at", "120m")
    repo.ok("status", pub, "resolved", "-m", "stable", "--at", "100m")
    repo.ok("action", "add", pub, "CANARY-ACTION-ITEM alert", "-o", "Wendy CanaryOwner", "-d", "7d")
    repo.ok("postmortem", pub)
    append(repo, pub, "\nCANARY-POSTMORTEM root cause text\n", "post-mortem")
    make_public(repo, pub)

    ids["script"] = ident(repo, SCRIPT_TITLE, "--severity", "SEV-1", "--service", "payments")
    repo.ok("log", ids["script"], "Payments are failing; we are on it.", "--kind", "public")
    make_public(repo, ids["script"])

    payload = json.loads((FIXTURES_ALERTS / "plain.json").read_text())
    payload["spec_id"] = "CANARY-PAYLOAD-spec"
    payload["runbook"] = "https://canary-link-host.corp.example/runbook"
    alert = repo.json(
        "open", "Login latency", "--alert-payload", json.dumps(payload), "--service", "login"
    )
    ids["alert"] = alert["id"]
    make_public(repo, ids["alert"])

    ids["internal"] = ident(
        repo, "CANARY-INTERNAL-TITLE outage", "--service", "canary-internal-svc",
        "--summary", "CANARY-INTERNAL-SUMMARY",
    )  # fmt: skip
    ids["restricted"] = ident(
        repo,
        "CANARY-RESTRICTED-TITLE breach",
        "--service",
        "canary-restricted-svc",
        "-t",
        "security",
    )
    # A security incident is restricted from its opening.
    assert "visibility: restricted" in path_of(repo, ids["restricted"]).read_text()
    ids["cancelled"] = ident(repo, "CANARY-CANCELLED-TITLE false alarm", "--service", "canary-x")
    make_public(repo, ids["cancelled"])
    repo.ok("status", ids["cancelled"], "cancelled", "-m", "false alarm")
    repo.ok(
        "maintenance", "add", "CANARY-MAINT-INTERNAL", "--service", "canary-maint-svc",
        "--end", "+2h",
    )  # fmt: skip
    repo.ok(
        "maintenance", "add", "Database upgrade", "--service", "checkout", "--start", "+1d",
        "--end", "+2d", "--public", "--description", "Short read-only period.",
    )  # fmt: skip
    return ids


def build(repo: Repo, out: Path, **kwargs: Any) -> Any:
    handle = IncidentRepo.open(repo.path)
    try:
        return build_site(handle, out, **kwargs)
    finally:
        handle.git.close()


def files_of(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_the_public_build_holds_no_canary_in_any_file(repo: Repo, tmp_path: Path) -> None:
    """Nothing internal reaches the public status page: not an internal, restricted or
    cancelled incident, an internal entry, a name, an e-mail, a payload or a link."""
    ids = leak_fixture(repo)
    out = tmp_path / "public"
    result = repo.ok("site", "build", str(out), "--public", "--json")
    assert json.loads(result.stdout)["public_incidents"] == 3
    found = files_of(out)
    assert "index.html" in found and "status.json" in found and "feed.xml" in found
    assert f"incidents/{ids['public']}.html" in found
    assert not any(name.startswith("incidents/") and ids["internal"] in name for name in found)
    for name, data in found.items():
        text = data.decode("utf-8").casefold()
        for canary in CANARIES:
            assert canary.casefold() not in text, f"{canary!r} leaked into {name}"
    page = found[f"incidents/{ids['public']}.html"].decode()
    assert "We are looking into slow checkouts." in page
    assert "[name hidden] says: mail [email hidden] or see [link hidden] for details" in page
    assert "stats.html" not in found and "search-index.js" not in found
    assert not any(name.endswith(".js") for name in found)


def test_the_full_site_shows_the_internal_parts(repo: Repo, tmp_path: Path) -> None:
    """The internal site has the timeline, names, post-mortem, actions and history;
    restricted incidents stay out; the status page is under status/."""
    ids = leak_fixture(repo)
    out = tmp_path / "site"
    repo.ok("site", "build", str(out))
    page = (out / "incidents" / f"{ids['public']}.html").read_text()
    for text in ("CANARY-NOTE", "CANARY-POSTMORTEM", "Zed CanaryCommander", "Yara CanaryComms"):
        assert text in page
    assert "Xavier CanaryAuthor" in page  # the timeline's author and the git history's
    assert "CANARY-ACTION-ITEM" in page and "Wendy CanaryOwner" in page
    assert "incident(" in page  # commit subjects in the history table
    assert not (out / "incidents" / f"{ids['restricted']}.html").exists()
    index = (out / "index.html").read_text()
    assert "CANARY-RESTRICTED-TITLE" not in index and "CANARY-INTERNAL-TITLE" in index
    assert "1 restricted incident left out" in index
    assert "CANARY-RESTRICTED" not in (out / "search-index.js").read_text()
    for name in ("index.html", "status.json", "feed.xml", "history.html"):
        assert (out / "status" / name).is_file()
    status = (out / "status" / "index.html").read_text()
    assert "CanaryCommander" not in status and "CANARY-INTERNAL" not in status
    assert (out / "stats.html").read_text().count("<svg") == 3


def test_text_is_escaped_and_runs_nothing(repo: Repo, tmp_path: Path) -> None:
    """A title holding <script> and {{ 7*7 }} is text everywhere: escaped in HTML,
    escaped in the feed, never template source."""
    ids = leak_fixture(repo)
    full, pub = tmp_path / "site", tmp_path / "public"
    build(repo, full)
    build(repo, pub, public_only=True)
    for out in (full, pub):
        for name, data in files_of(out).items():
            text = data.decode()
            assert "<script>window.pwned" not in text, name
            assert "<b>degraded" not in text, name
            assert "49" not in re.findall(r"Payments.{0,40}", text), name
    page = (full / "incidents" / f"{ids['script']}.html").read_text()
    assert "&lt;script&gt;window.pwned = 1&lt;/script&gt; Payments &lt;b&gt;degraded" in page
    assert "{{ 7*7 }}" in page
    scripts = re.findall(r"<script[^>]*>", (full / "index.html").read_text())
    assert scripts == [
        '<script src="search-index.js" defer>',
        '<script src="assets/site.js" defer>',
    ]
    feed = ET.parse(pub / "feed.xml").getroot()
    titles = [e.findtext(f"{ATOM}title") for e in feed.iter(f"{ATOM}entry")]
    assert any(t and SCRIPT_TITLE in t for t in titles)


def test_markdown_has_no_raw_html_and_no_dangerous_links() -> None:
    """The post-mortem renderer: raw HTML is text, javascript:/data:/vbscript: links
    are not links, tables and checklists render, the tool's markers vanish."""
    html = render(
        "<script>alert(1)</script>\n\n[a](javascript:alert(1)) [b](JAVASCRIPT:x) "
        "[c](data:text/html,x) [d](vbscript:x) [e](https://ok.example/) "
        '<img src=x onerror="alert(1)">\n\n- [x] done\n- [ ] open\n\n'
        "<!-- incidentctl:figures -->\n| a | b |\n| --- | --- |\n| 1 | 2 |\n"
        "<!-- /incidentctl:figures -->\n"
    )
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<img" not in html and "javascript:" not in html.split("href=")[-1].lower()
    assert html.count("<a ") == 1 and 'href="https://ok.example/"' in html
    assert 'rel="nofollow noopener noreferrer"' in html
    assert "☑ done" in html and "☐ open" in html
    assert "<table>" in html and "incidentctl:figures" not in html
    assert [is_safe_url(u) for u in ("../x.html", "#a", "mailto:a@b.c", "java%09script:x")] == [
        True,
        True,
        True,
        False,
    ]


def test_the_body_is_split_where_commonmark_puts_its_headings() -> None:
    """Summary and timeline come out of the rest; a `## Timeline` in a code block or
    a list item is no heading."""
    text = (
        "---\nid: X\n---\n\n# T\n\n## Summary\n\nSum text.\n\n## Timeline\n\n- entry\n"
        "  ## Timeline\n\n```\n## Summary\n```\n\n# Post-mortem\n\n## Impact\n\nBad.\n"
    )
    body = split_body(text, "T")
    assert body.summary == "Sum text."
    assert "# Post-mortem" in body.rest and "## Impact" in body.rest
    assert "- entry" not in body.rest and "```\n## Summary\n```" not in body.rest


def test_incremental_rebuild_writes_only_what_changed(repo: Repo, tmp_path: Path) -> None:
    """After one incident changes, only its page (and the index, stats, status pages)
    is written; the manifest maps each page to its file's blob id."""
    first = ident(repo, "First outage", "--service", "api")
    second = ident(repo, "Second outage", "--service", "db")
    out = tmp_path / "site"
    result = build(repo, out)
    assert result.rebuilt == 2 and result.removed == 0
    manifest = json.loads((out / MANIFEST).read_text())
    rel = str(repo.json("show", first)["path"])
    source = manifest["sources"][f"incidents/{first}.html"]
    assert source["path"] == rel
    assert source["blob"] == git(repo.path, "rev-parse", f"HEAD:{rel}").strip()
    assert source["hist"] == git(repo.path, "log", "-1", "--format=%H", "--", rel).strip()
    assert set(manifest["pages"]) >= {"index.html", f"incidents/{second}.html", "stats.html"}
    second_page = out / "incidents" / f"{second}.html"
    before = second_page.stat().st_mtime_ns

    again = build(repo, out)
    assert again.rebuilt == 0

    repo.ok("log", first, "Rolled back the deploy", "--kind", "action")
    third = build(repo, out)
    assert third.rebuilt == 1
    assert "Rolled back the deploy" in (out / "incidents" / f"{first}.html").read_text()
    assert second_page.stat().st_mtime_ns == before
    assert "log action: Rolled back the deploy" in (out / "incidents" / f"{first}.html").read_text()

    # A change left uncommitted rebuilds the page too (new blob id), and committing it
    # later does again (new history).
    append(repo, first, "\nA hand-written note.\n", "note")
    path_of(repo, first).write_text(path_of(repo, first).read_text() + "\nMore.\n")
    assert build(repo, out).rebuilt == 1
    repo.git("commit", "--quiet", "-am", "more")
    assert build(repo, out).rebuilt == 1
    assert build(repo, out).rebuilt == 0


def test_pages_that_go_away_are_removed(repo: Repo, tmp_path: Path) -> None:
    """An incident made restricted loses its page; a --public build into a full
    site's folder removes every internal page."""
    first = ident(repo, "First outage")
    ident(repo, "Second outage")
    out = tmp_path / "site"
    build(repo, out)
    make_public(repo, first, "restricted")
    result = build(repo, out)
    assert result.removed >= 1 and not (out / "incidents" / f"{first}.html").exists()
    build(repo, out, public_only=True)
    left = set(files_of(out))
    assert left == {MANIFEST, "assets/site.css", "index.html", "history.html", "status.json"} | {
        "feed.xml"
    }


def test_a_broken_manifest_means_a_fresh_build(repo: Repo, tmp_path: Path) -> None:
    """A site folder whose manifest cannot be read is emptied and built afresh, so no
    page of an earlier build (an internal one, say) is left behind."""
    incident = ident(repo, "Internal outage")
    out = tmp_path / "site"
    build(repo, out)
    (out / MANIFEST).write_text("{not json")
    (out / "leftover.html").write_text("old")
    result = build(repo, out, public_only=True)
    assert result.removed == 0 and not (out / "leftover.html").exists()
    assert not (out / "incidents" / f"{incident}.html").exists()
    assert json.loads((out / MANIFEST).read_text())["format"] == 1


def test_a_folder_it_did_not_make_is_refused(repo: Repo, tmp_path: Path) -> None:
    """OUT must be new, empty, or an earlier build: nothing of the user's is overwritten."""
    ident(repo, "Outage")
    out = tmp_path / "mine"
    out.mkdir()
    (out / "index.html").write_text("my own page")
    result = repo.run("site", "build", str(out))
    assert result.exit_code == 1
    assert "not empty" in result.output and (out / "index.html").read_text() == "my own page"
    bad = repo.run("site", "build", str(tmp_path / "x"), "--base-url", "javascript:alert(1)")
    assert bad.exit_code != 0 and "not an http(s) URL" in bad.output


def test_status_json_and_feed_parse_and_speak_statuspage(repo: Repo, tmp_path: Path) -> None:
    """status.json has Statuspage's shape and words; feed.xml is Atom with one entry per
    public incident and maintenance window, absolute links with --base-url."""
    ids = leak_fixture(repo)
    out = tmp_path / "public"
    build(repo, out, public_only=True, base_url="https://status.example.com")
    status = json.loads((out / "status.json").read_text())
    assert status["page"]["url"] == "https://status.example.com/"
    assert status["status"]["indicator"] == "critical"  # the open SEV-1
    components = {c["name"]: c["status"] for c in status["components"]}
    assert components == {
        "checkout": "operational",
        "login": "partial_outage",  # the payload says SEV-2
        "payments": "major_outage",
    }
    assert all(len(c["days"]) == 90 for c in status["components"])
    active = {i["id"]: i for i in status["incidents"]}
    assert set(active) == {ids["script"], ids["alert"]}
    assert active[ids["script"]]["impact"] == "critical"
    assert active[ids["script"]]["status"] == "investigating"
    [past] = status["past_incidents"]
    assert past["id"] == ids["public"] and past["status"] == "resolved"
    assert [u["status"] for u in past["incident_updates"]] == [
        "resolved",
        "identified",
        "investigating",
    ]
    assert past["shortlink"] == f"https://status.example.com/incidents/{ids['public']}.html"
    [window] = status["scheduled_maintenances"]
    assert window["status"] == "scheduled" and window["name"] == "Database upgrade"
    vocabulary = {"investigating", "identified", "monitoring", "resolved"}
    assert {i["status"] for i in status["incidents"] + status["past_incidents"]} <= vocabulary

    feed = ET.parse(out / "feed.xml").getroot()
    assert feed.tag == f"{ATOM}feed" and feed.findtext(f"{ATOM}id", "").startswith("urn:uuid:")
    entries = list(feed.iter(f"{ATOM}entry"))
    assert len(entries) == 4  # three incidents, one maintenance window
    links = [e.find(f"{ATOM}link").get("href") for e in entries]  # type: ignore[union-attr]
    assert all(str(link).startswith("https://status.example.com/") for link in links)
    assert all(e.findtext(f"{ATOM}updated") for e in entries)
    again = tmp_path / "again"
    build(repo, again, public_only=True, base_url="https://status.example.com")
    ids_again = [e.findtext(f"{ATOM}id") for e in ET.parse(again / "feed.xml").iter(f"{ATOM}entry")]
    assert ids_again == [e.findtext(f"{ATOM}id") for e in entries]


def test_the_redactor_hides_links_mails_and_names() -> None:
    """Public text: links (but the site's own), e-mail addresses and known names go."""
    redact = public.Redactor(["Priya Raman", "dan"], "https://status.example.com/")
    text = redact(
        "Priya Raman and priya raman (Priya) wrote to ops@corp.example, see "
        "http://grafana.local/x and https://status.example.com/incidents/a.html; dancers, Dan."
    )
    assert text == (
        "[name hidden] and [name hidden] ([name hidden]) wrote to [email hidden], see "
        "[link hidden] and https://status.example.com/incidents/a.html; dancers, [name hidden]."
    )


def test_ninety_days_per_service(repo: Repo, tmp_path: Path) -> None:
    """A public incident ten days ago colours that day of its service's 90 days."""
    incident = ident(repo, "API errors", "--severity", "SEV-2", "--service", "api", "--at", "10d")
    repo.ok("status", incident, "resolved", "-m", "ok", "--at", "239h")
    make_public(repo, incident)
    out = tmp_path / "public"
    now = datetime.now(timezone.utc)
    build(repo, out, public_only=True, now=now)
    [api] = json.loads((out / "status.json").read_text())["components"]
    day = (now - timedelta(days=10)).date().isoformat()
    marked = [d for d in api["days"] if d["status"] != "operational"]
    assert [d["date"] for d in marked] == [day] and marked[0]["status"] == "partial_outage"
    assert api["status"] == "operational"


def test_the_command_prints_one_line(repo: Repo, tmp_path: Path) -> None:
    """`site build OUT` reports what it did on one line; --json is one document."""
    ident(repo, "Outage")
    result = repo.ok("site", "build", str(tmp_path / "s"))
    assert result.output.startswith(f"Built the site in {tmp_path / 's'}: 1 incident(s)")
    assert len(result.output.splitlines()) == 1
    data = json.loads(repo.ok("site", "build", str(tmp_path / "s"), "--json").stdout)
    assert data["rebuilt"] == 0 and data["incidents"] == 1


@pytest.mark.parametrize("visibility", ["internal", "restricted"])
def test_non_public_incidents_never_reach_status_data(repo: Repo, visibility: str) -> None:
    """status_data, all the status templates see, holds only public incidents."""
    incident = ident(repo, "Hidden outage", "--service", "hidden")
    if visibility != "internal":
        make_public(repo, incident, visibility)
    handle = IncidentRepo.open(repo.path)
    from incidentctl.repo.records import records

    data = public.status_data(
        records(handle, None, timelines=True), [], now=datetime.now(timezone.utc),
        title="S", site_url=None,
    )  # fmt: skip
    handle.git.close()
    assert "hidden" not in json.dumps(data).casefold()


WORKFLOW = Path(__file__).resolve().parent.parent / "templates" / "workflows" / "site-pages.yml"


def test_the_pages_workflow_is_pinned_and_least_privilege() -> None:
    """Pages rights only on the deploy job, read-only checkout without credentials,
    every action pinned by SHA with its version, and clean under zizmor and the schema."""
    import subprocess

    import yaml
    from actions_sim import all_steps, check_pinned_and_inert

    text = WORKFLOW.read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    assert doc["permissions"] == {}
    build_job, deploy_job = doc["jobs"]["build"], doc["jobs"]["deploy"]
    assert build_job["permissions"] == {"contents": "read", "pages": "read"}
    assert deploy_job["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy_job["needs"] == "build"
    check_pinned_and_inert(all_steps(doc), runs=2)
    for line in text.splitlines():
        if "uses:" in line:
            assert re.search(r"@[0-9a-f]{40} # v\d+\.\d+\.\d+$", line), line
    [checkout] = [s for s in build_job["steps"] if "actions/checkout" in s.get("uses", "")]
    assert checkout["with"]["persist-credentials"] is False
    uses = " ".join(s.get("uses", "") for s in all_steps(doc))
    for action in ("configure-pages", "upload-pages-artifact", "deploy-pages"):
        assert f"actions/{action}@" in uses
    assert "@INCIDENTCTL_INSTALL@" in text
    env = {k: v for k, v in os.environ.items() if k not in ("GH_TOKEN", "GITHUB_TOKEN")}
    for argv in (
        [tool("zizmor"), "--offline", "--no-progress", "--format", "plain", str(WORKFLOW)],
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
    ):
        done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        assert done.returncode == 0, done.stdout + done.stderr


def test_the_pages_workflow_builds_the_public_site(repo: Repo, tmp_path: Path) -> None:
    """The workflow's own steps, run in a simulated job, build a status page that
    leaks nothing, with links under the Pages URL."""
    from actions_sim import run_steps

    leak_fixture(repo)
    workflows = repo.path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    text = WORKFLOW.read_text(encoding="utf-8").replace("@INCIDENTCTL_INSTALL@", "incidentctl")
    (workflows / "site-pages.yml").write_text(text, encoding="utf-8")
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    ran = run_steps(
        workflows / "site-pages.yml",
        repo.path,
        {"RUNNER_TEMP": str(temp), "GITHUB_REPOSITORY": "acme/incidents"},
        {"steps.pages.outputs.base_url": "https://acme.github.io/incidents"},
    )
    assert [r.code for r in ran] == [0, 0], [(r.name, r.stderr) for r in ran]
    site = temp / "site"
    status = json.loads((site / "status.json").read_text())
    assert status["page"]["url"] == "https://acme.github.io/incidents/"
    for name, data in files_of(site).items():
        for canary in CANARIES:
            assert canary.casefold() not in data.decode().casefold(), (canary, name)


def test_history_follows_a_rename_and_never_a_copy(repo: Repo, tmp_path: Path) -> None:
    """A page's history holds the commits from before its file was renamed, in the
    one-pass history (first build) and the per-file one (incremental); a file copied
    from another does not get the other's commits."""
    first = ident(repo, "Renamed outage")
    repo.ok("log", first, "Before the rename")
    rel = str(repo.json("show", first)["path"])
    renamed = rel.replace("-renamed-outage.md", "-a-better-name.md")
    repo.git("mv", rel, renamed)
    repo.git("commit", "--quiet", "-m", "rename the file")
    copied_rel = rel.replace(first, "INC-20200101-copy").replace("renamed", "copied")
    text = (repo.path / renamed).read_text().replace(first, "INC-20200101-copy")
    (repo.path / copied_rel).parent.mkdir(parents=True, exist_ok=True)
    (repo.path / copied_rel).write_text(text)
    repo.git("add", copied_rel)
    repo.git("commit", "--quiet", "-m", "a copy")
    out = tmp_path / "site"
    build(repo, out)
    page = (out / "incidents" / f"{first}.html").read_text()
    assert "rename the file" in page and "log note: Before the rename" in page
    copy = (out / "incidents" / "INC-20200101-copy.html").read_text()
    assert "a copy" in copy and "Before the rename" not in copy.split('id="history"')[1]
    repo.ok("log", first, "After the rename")
    assert build(repo, out).rebuilt == 1
    page = (out / "incidents" / f"{first}.html").read_text()
    assert "rename the file" in page and "log note: Before the rename" in page
    assert "log note: After the rename" in page


def test_forked_workers_make_the_same_site(
    repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With pages built in forked child processes (several CPUs), the site is byte
    for byte the one a single process builds; an error in a child reaches the caller."""
    from incidentctl.errors import IncidentctlError
    from incidentctl.history.site import parallel

    first = ident(repo, "Template outage", "--service", "api")
    template = path_of(repo, first)
    text = template.read_text(encoding="utf-8")
    for n in range(260):
        other = f"INC-20250101-{n:04d}"
        copy = template.parent / f"{other}-copy-{n}.md"
        copy.write_text(text.replace(first, other).replace("Template outage", f"Copy {n}"))
    repo.git("add", "-A")
    repo.git("commit", "--quiet", "-m", "copies")
    monkeypatch.setattr(parallel, "workers", lambda: 2)
    forked = build(repo, tmp_path / "forked", now=datetime(2026, 12, 1, tzinfo=timezone.utc))
    assert forked.rebuilt == 261
    monkeypatch.setattr(parallel, "workers", lambda: 1)
    build(repo, tmp_path / "alone", now=datetime(2026, 12, 1, tzinfo=timezone.utc))
    first_files, second_files = files_of(tmp_path / "forked"), files_of(tmp_path / "alone")
    assert first_files.keys() == second_files.keys()
    different = [n for n in first_files if n != MANIFEST and first_files[n] != second_files[n]]
    assert different == []

    def fails() -> None:
        raise IncidentctlError("the job failed")

    results: list[Any] = []
    with pytest.raises(IncidentctlError, match="the job failed"):
        parallel.run_all([lambda: 1, fails, lambda: 3], lambda r, f: results.append(r), at_once=2)
    got: list[Any] = []
    parallel.run_all([lambda: 1, lambda: 2, lambda: 3], lambda r, f: got.append((r, f)), at_once=2)
    assert sorted(got) == [(1, True), (2, True), (3, True)]
