"""A validated incidentctl.toml is cached per clone, so `log` does not parse it again."""

from __future__ import annotations

import subprocess
from datetime import date, datetime, time, timedelta, timezone

from conftest import Repo, log_in_fresh_process

from incidentctl.incident import configfile as config_module
from incidentctl.incident.config import Config, OnCall, SeverityPolicy
from incidentctl.incident.configfile import ConfigCache, from_plain, to_plain

FULL = """\
incidents_dir = "ops/incidents"
id_format = "OPS-{date}-{time}-{rand}"
default_severity = "SEV-2"
default_type = "security"
default_environment = "staging"
push = false
roles = ["commander", "comms", "scribe", "security_lead"]

[severities.SEV-1]
update_every = "15m"
sections = ["Summary", "Impact", "Root Cause"]

[postmortem]
required_sections = ["Summary", "Impact"]
placeholder_pattern = "TBD"

[oncall]
rotation = ["alice", "bob"]
start = 2026-01-05T09:00:00+02:00
shift = "1d"
"""


def _log(repo: Repo, ident: str, text: str) -> subprocess.CompletedProcess[str]:
    return log_in_fresh_process(
        repo, ident, text, report="'tomllib' in sys.modules or 'tomli' in sys.modules"
    )


def test_plain_form_round_trips_every_key() -> None:
    config = Config(
        incidents_dir="ops",
        id_format="X-{date}-{rand}",
        roles=("commander", "x"),
        severities={"SEV-1": SeverityPolicy("SEV-1", "d", "r", "5m", False, ("A",))},
        required_sections=("A", "B"),
        placeholder_pattern="TBD",
        oncall=OnCall(
            ("a",),
            datetime(2026, 1, 5, 9, tzinfo=timezone(timedelta(hours=2))),
            timedelta(hours=36, microseconds=5),
        ),
        push=True,
        sections={
            "alerts": {
                "resolve_to": "monitoring",
                "severity": {"critical": "SEV-1"},
                "since": datetime(2026, 1, 5, 9, tzinfo=timezone.utc),
                "days": [date(2026, 1, 1), time(9, 30)],
                "ratio": 0.5,
            }
        },
    )
    assert from_plain(to_plain(config)) == config
    assert from_plain(to_plain(config)).section("alerts")["days"] == [date(2026, 1, 1), time(9, 30)]
    assert from_plain(to_plain(Config())) == Config()


def test_second_log_uses_the_cache_and_an_edit_validates_again(repo: Repo) -> None:
    (repo.path / "incidentctl.toml").write_text(FULL)
    ident = repo.open("Token leak")["id"]
    assert ident.startswith("OPS-")
    cache = repo.path / ".git" / ConfigCache.FILE_NAME
    assert cache.exists()  # `open` validated the file and cached it
    cache.unlink()
    first = _log(repo, ident, "parsed")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().endswith("True"), first.stdout  # parsed with tomllib
    assert cache.exists()
    second = _log(repo, ident, "from the cache")
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip().endswith("False"), second.stdout  # no TOML parser loaded
    expected = config_module.load(repo.path)
    assert ConfigCache(repo.path / ".git", (repo.path / "incidentctl.toml").read_bytes()).get() == (
        expected
    )

    # An edit changes the key: the new file is parsed, and a bad value is refused.
    (repo.path / "incidentctl.toml").write_text(FULL.replace('shift = "1d"', 'shift = "soon"'))
    refused = _log(repo, ident, "refused")
    assert refused.returncode == 1
    assert "`oncall.shift` must be a duration" in refused.stderr
    (repo.path / "incidentctl.toml").write_text(FULL.replace("push = false", "push = true"))
    pushed = _log(repo, ident, "needs a remote now")
    assert pushed.returncode == 1
    assert "but sync failed: this branch has no remote to sync with" in pushed.stderr


def test_a_corrupt_or_foreign_cache_is_ignored(repo: Repo) -> None:
    (repo.path / "incidentctl.toml").write_text(FULL)
    raw = FULL.encode()
    git_dir = repo.path / ".git"
    cache = git_dir / ConfigCache.FILE_NAME
    for junk in (b"", b"\x00garbage", b"\xe9" * 100):
        cache.write_bytes(junk)
        assert config_module.load(repo.path, cache_dir=git_dir).default_severity == "SEV-2"
    # A cache written for other bytes (or another version) is not used.
    stale = ConfigCache(git_dir, raw.replace(b"SEV-2", b"SEV-4"))
    stale.put(Config(default_severity="SEV-4"))
    assert config_module.load(repo.path, cache_dir=git_dir).default_severity == "SEV-2"
    assert ConfigCache(git_dir, raw).get() is not None  # re-cached for the real bytes
