"""Talking to the remote for `sync`: fetch, rebase, push, and the user's uncommitted work
put aside and back meanwhile."""

from __future__ import annotations

import os

from ...errors import GitError
from .core import GitCore
from .run import git_message, run_git


class Shelf:
    """Uncommitted changes put aside during a sync: a stash commit made on `base`."""

    __slots__ = ("base", "sha", "staged")

    def __init__(self, sha: str, base: str, *, staged: bool):
        self.sha = sha
        self.base = base
        self.staged = staged  # something was staged: put it back with `--index`


def _untracked_in_the_way(output: str) -> list[str]:
    """The files git lists as "untracked working tree files would be overwritten"."""
    found: list[str] = []
    listing = False
    for line in output.splitlines():
        if "untracked working tree files would be" in line:
            listing = True
        elif listing and line.startswith("\t"):
            found.append(line.strip())
        elif listing:
            break
    return found


def _push_summary(porcelain: str) -> str | None:
    """The summary of the one rejected ref in `git push --porcelain` output.

    Each ref is a line `FLAG<TAB>FROM:TO<TAB>SUMMARY`; `!` marks a rejected one, e.g.
    `[rejected] (fetch first)` or `[remote rejected] (pre-receive hook declined)`.
    """
    for line in porcelain.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and parts[0] == "!":
            return parts[2].strip()
    return None


# The server's own words for a push that lost a race to another push after git
# checked the branch (two pushes landing at once): fetch, rebase and try again.
_SERVER_RACES = ("cannot lock ref", "failed to update ref", "failed to lock", "incorrect old value")


def _remote_moved(summary: str) -> bool:
    """Whether a rejected push was only beaten by another push (retrying helps)."""
    if summary.startswith("[rejected]"):
        return "fetch first" in summary or "non-fast-forward" in summary
    if summary.startswith("[remote rejected]"):
        return any(words in summary for words in _SERVER_RACES)
    return False


def _push_refused(remote: str, branch: str, summary: str, stderr: str) -> str:
    """One line: what git said, what the server said, that nothing is lost, what to do."""
    from ...safetext import safe

    said = [
        safe(line.removeprefix("remote:").strip())
        for line in stderr.splitlines()
        if line.startswith("remote:") and line.removeprefix("remote:").strip()
    ]
    server = f"; the server said: {' | '.join(said[-10:])}" if said else ""
    return (
        f"{remote} refused the push to {branch}: {safe(summary)}{server}. Your commits are "
        "kept here, unpushed; retrying will not help until that is settled (e.g. a protected "
        "branch takes a pull request), then run `incidentctl sync` again"
    )


class GitRemote(GitCore):
    """What GitRepo does with a remote and with uncommitted work during a sync."""

    def upstream(self) -> tuple[str, str]:
        """(remote, branch) this branch pushes to: its upstream, else origin/<same name>."""
        result = run_git(["symbolic-ref", "--quiet", "--short", "HEAD"], self.top, check=False)
        local = result.stdout.strip()
        if result.returncode != 0 or not local:
            raise GitError("HEAD is detached; check out a branch before syncing")
        remote = run_git(["config", "--get", f"branch.{local}.remote"], self.top, check=False)
        merge = run_git(["config", "--get", f"branch.{local}.merge"], self.top, check=False)
        name, ref = remote.stdout.strip(), merge.stdout.strip()
        if name and name != "." and ref.startswith("refs/heads/"):
            return name, ref.removeprefix("refs/heads/")
        remotes = self.run("remote").split()
        if "origin" in remotes:
            return "origin", local
        raise GitError(
            "this branch has no remote to sync with; add one: `git remote add origin URL`, "
            f"then `git push -u origin {local}`"
        )

    def fetch(self, remote: str, branch: str) -> bool:
        """Fetch one branch; False when the remote does not have it yet."""
        result = run_git(
            [
                "fetch",
                "--quiet",
                "--",
                remote,
                f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}",
            ],
            self.top,
            check=False,
        )
        if result.returncode == 0:
            return True
        if "couldn't find remote ref" in result.stderr.lower():
            return False
        raise GitError(git_message(["fetch"], result.stderr))

    def counts(self, ref: str) -> tuple[int, int]:
        """(commits only here, commits only in ref)."""
        out = self.run("rev-list", "--left-right", "--count", f"HEAD...{ref}", "--").split()
        return int(out[0]), int(out[1])

    def rebase(self, onto: str) -> None:
        """Rebase the branch onto `onto`; on a conflict, abort and say which files.

        The work tree must be clean (`shelve` first): git's own `--autostash` reports
        success even when putting the changes back leaves conflict markers.
        """
        result = run_git(["rebase", "--quiet", onto], self.top, check=False)
        if result.returncode == 0:
            return
        files = [
            f for f in self.run("diff", "-z", "--name-only", "--diff-filter=U").split("\0") if f
        ]
        run_git(["rebase", "--abort"], self.top, check=False)
        in_the_way = _untracked_in_the_way(result.stderr)
        if in_the_way:
            raise GitError(
                f"sync stopped: the remote adds {', '.join(in_the_way)}, which is here as an "
                "untracked file that would be overwritten; nothing was changed here. Move it "
                "away (or commit it), then run `incidentctl sync`"
            )
        if not files:
            raise GitError(git_message(["rebase"], result.stderr + result.stdout))
        raise GitError(
            f"sync stopped: {', '.join(files)} changed on both sides in a way that cannot be "
            "merged automatically (the same field set differently); nothing was changed here, "
            "your clone is as it was before the sync. "
            f"To resolve: `git pull --rebase`, edit the conflict markers, `git add` the file, "
            "`git rebase --continue`, then `incidentctl sync`"
        )

    def shelve(self, message: str) -> Shelf | None:
        """Put uncommitted changes (staged and not) aside; None when there are none.

        They go into `git stash list` under `message` first, so a sync killed halfway
        leaves them where a git user looks, and only then is the work tree reset.
        Untracked and ignored files stay where they are.
        """
        base = self.run("rev-parse", "--verify", "HEAD").strip()
        sha = self.run("stash", "create").strip()
        if not sha:
            return None
        run_git(["stash", "store", "--quiet", f"--message={message}", sha], self.top)
        index_tree = self.run("rev-parse", "--verify", f"{sha}^2^{{tree}}").strip()
        base_tree = self.run("rev-parse", "--verify", f"{base}^{{tree}}").strip()
        shelf = Shelf(sha, base, staged=index_tree != base_tree)
        reset = self._run_retrying(["reset", "--hard", "--quiet", "HEAD"])
        if reset.returncode != 0:
            self.unshelve(shelf, at_base=True)
            raise GitError(git_message(["reset"], reset.stderr + reset.stdout))
        return shelf

    def shelved_by(self, message: str) -> str | None:
        """The stash entry (`stash@{N}`) holding `message`, e.g. left by a killed sync."""
        for line in self.run("stash", "list", "--format=%gd %gs").splitlines():
            name, _, subject = line.partition(" ")
            if subject == message:
                return name
        return None

    def shelf_conflicts(self, shelf: Shelf) -> list[str]:
        """Files where putting `shelf` back on HEAD would conflict ([] when it goes cleanly).

        A three-way merge in git's object store (base: where the changes were made,
        ours: HEAD, theirs: the changes), through the same merge drivers as a pull;
        the work tree is not touched. What was staged is merged the same way.
        """
        if self.run("rev-parse", "--verify", "HEAD").strip() == shelf.base:
            return []
        conflicts = self._merge_onto_head(shelf, shelf.sha)[1]
        if shelf.staged:
            conflicts += self._merge_onto_head(shelf, f"{shelf.sha}^2")[1]
        return sorted(set(conflicts))

    def unshelve(self, shelf: Shelf, *, at_base: bool = False) -> bool:
        """Put the changes back, staged as they were, and drop them from the stash list.

        `at_base`: first return the branch to the commit they were made on, which
        restores the user's state exactly. False (the stash entry kept, the work tree
        clean) when they did not go back without a conflict.
        """
        if at_base:
            self._run_retrying(["reset", "--hard", "--quiet", shelf.base])
        index = None
        if shelf.staged:  # what the index will hold: the staged tree, merged onto HEAD
            index, conflicts = self._merge_onto_head(shelf, f"{shelf.sha}^2")
            if conflicts:
                return False
        applied = self._run_retrying(["stash", "apply", "--quiet", shelf.sha])
        unmerged = self.run("diff", "--name-only", "--diff-filter=U")
        if applied.returncode != 0 or unmerged.strip():
            self._run_retrying(["reset", "--hard", "--quiet", "HEAD"])
            return False
        if index is not None:
            self._run_retrying(["read-tree", index])
            run_git(["update-index", "-q", "--refresh"], self.top, check=False)
        listed = self.run("stash", "list", "--format=%H").split()
        if shelf.sha in listed:
            run_git(["stash", "drop", "--quiet", f"stash@{{{listed.index(shelf.sha)}}}"], self.top)
        return True

    def _merge_onto_head(self, shelf: Shelf, rev: str) -> tuple[str, list[str]]:
        """(the merged tree, conflicting files) of `rev`'s tree put onto HEAD from the base."""
        if self.run("rev-parse", "--verify", "HEAD").strip() == shelf.base:
            return self.run("rev-parse", "--verify", f"{rev}^{{tree}}").strip(), []
        base = self._synthetic(f"{shelf.base}^{{tree}}")
        ours = self._synthetic("HEAD^{tree}", base)
        theirs = self._synthetic(f"{rev}^{{tree}}", base)
        merged = run_git(
            ["merge-tree", "--write-tree", "-z", "--name-only", "--no-messages", ours, theirs],
            self.top,
            check=False,
        )
        if merged.returncode not in (0, 1):
            raise GitError(git_message(["merge-tree"], merged.stderr + merged.stdout))
        tree, *files = merged.stdout.split("\0")
        return tree.strip(), [f for f in files if f] if merged.returncode == 1 else []

    def _synthetic(self, tree: str, parent: str | None = None) -> str:
        """A commit object of `tree` that no ref points at (for a merge in the object store)."""
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": "incidentctl",
            "GIT_AUTHOR_EMAIL": "incidentctl@localhost",
            "GIT_COMMITTER_NAME": "incidentctl",
            "GIT_COMMITTER_EMAIL": "incidentctl@localhost",
        }
        args = ["commit-tree", *(["-p", parent] if parent else []), tree]
        return run_git(args, self.top, stdin="incidentctl sync check\n", env=env).stdout.strip()

    def push(self, remote: str, branch: str) -> bool:
        """Push HEAD to the branch (never forced); False if someone pushed first.

        A push the server refuses for good (a protected branch, a pre-receive hook, a
        policy) raises at once with git's and the server's words: another attempt
        would only be refused again.
        """
        result = run_git(
            ["push", "--porcelain", "--", remote, f"HEAD:refs/heads/{branch}"],
            self.top,
            check=False,
        )
        if result.returncode == 0:
            return True
        summary = _push_summary(result.stdout)
        if summary is None:  # no ref was tried: no connection, no such remote, a bad URL
            raise GitError(git_message(["push"], result.stderr + result.stdout))
        if _remote_moved(summary):
            return False
        raise GitError(_push_refused(remote, branch, summary, result.stderr))

    def added_since(self, ref: str, folder: str) -> list[str]:
        """Files added by commits here that `ref` does not have."""
        out = self.run(
            "diff", "-z", "--name-only", "--diff-filter=A", f"{ref}...HEAD", "--", folder
        )
        return [f for f in out.split("\0") if f]
