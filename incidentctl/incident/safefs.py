"""File access that never follows a symbolic link, and plain words for a failed write.

Incident files arrive through pull requests, so a link in them could point anywhere
(`/dev/zero`, a file outside the repository, a folder elsewhere to write into).
Folders are opened one component at a time from the repository root with
`O_NOFOLLOW`, and files are opened relative to their folder's descriptor, so no
link is followed anywhere on the way. Only `os`, `stat` and `errno`: `log` uses it.
"""

from __future__ import annotations

import errno
import os
import stat

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    StrPath = str | os.PathLike[str]

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIR = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _CLOEXEC


class NotRegular(Exception):
    """`path` is something else than what was expected (a link, a FIFO, a device…)."""

    def __init__(self, path: str, what: str, fix: str):
        super().__init__(f"{path}: {what}")
        self.path = path
        self.what = what  # "is a symbolic link"
        self.fix = fix  # "replace the link with the file itself"

    @property
    def reason(self) -> str:
        return f"{self.what}; {self.fix}"


def kind(mode: int) -> str:
    """What a file of this `st_mode` is, as words after "is"."""
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a regular file" if stat.S_ISREG(mode) else "not a regular file"


def not_regular(path: str, mode: int, *, folder: bool = False) -> NotRegular:
    """The error for a non-regular file (or, with `folder`, for a non-folder)."""
    what = kind(mode)
    if stat.S_ISLNK(mode):
        fix = (
            "incidentctl does not follow links: replace it with a real folder"
            if folder
            else "incidentctl reads only regular files: replace the link with the file itself"
        )
    elif folder:
        fix = "it must be a folder: rename or remove it"
    elif stat.S_ISDIR(mode):
        fix = "an incident is a file: rename the folder so it does not end in .md"
    else:
        fix = "incidentctl reads only regular files: remove it"
    return NotRegular(path, f"is {what}" if what[0] == "a" else what, fix)


def entry_problem(path: str) -> str | None:
    """Why the entry at `path` (not followed) is no regular file; None for one."""
    try:
        mode = os.lstat(path).st_mode
    except OSError as exc:
        return f"cannot be read: {exc.strerror}"
    return None if stat.S_ISREG(mode) else not_regular(path, mode).reason


def _inside(root: str, path: str) -> str:
    """`path` relative to `root` with `/`; ValueError when it is not inside."""
    rel = os.path.relpath(path, root)
    if rel == os.pardir or rel.startswith(os.pardir + os.sep) or os.path.isabs(rel):
        raise ValueError(f"{path} is not inside {root}")
    return "" if rel == os.curdir else rel.replace(os.sep, "/")


def open_folder(root: StrPath, rel: str = "", *, create: bool = False) -> int:
    """A descriptor of folder `rel` under `root`, reached without following any link.

    `root` itself is trusted (the repository's real path); each component below it
    must be a real folder. `create`: make the missing ones. Raises NotRegular for a
    link or a file on the way, OSError for the rest (FileNotFoundError, EACCES…).
    """
    top = os.fspath(root)
    fd = os.open(top, _DIR)
    done = top
    try:
        for part in rel.replace(os.sep, "/").split("/"):
            if part in ("", "."):
                continue
            if part == os.pardir:
                raise ValueError(f"{rel!r} leaves {top}")
            done = os.path.join(done, part)
            try:
                child = os.open(part, _DIR | _NOFOLLOW, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                try:  # noqa: SIM105 (contextlib would be one more import on the `log` path)
                    os.mkdir(part, 0o777, dir_fd=fd)
                except FileExistsError:  # made by another process meanwhile
                    pass
                child = os.open(part, _DIR | _NOFOLLOW, dir_fd=fd)
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                mode = os.lstat(part, dir_fd=fd).st_mode
                raise not_regular(done, mode, folder=True) from None
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def folder_of(path: StrPath, root: StrPath | None, *, create: bool = False) -> tuple[int, str]:
    """(descriptor of the folder holding `path`, its file name), no link followed.

    Without `root` only the folder's own last component is opened without following.
    """
    folder, name = os.path.split(os.fspath(path))
    folder = folder or "."
    if root is not None:
        return open_folder(root, _inside(os.fspath(root), folder), create=create), name
    parent, last = os.path.split(folder)
    if create:
        os.makedirs(folder, exist_ok=True)
    if not last or last in (".", ".."):
        return os.open(folder, _DIR), name
    return open_folder(parent or ".", last), name


def read_regular(path: StrPath, root: StrPath | None = None, limit: int = -1) -> bytes:
    """The bytes of a regular file; NotRegular for a link, FIFO, device or folder.

    `limit`: read at most this many bytes (-1: all).

    Checked before opening (a FIFO would block, a device could act) and again on the
    open descriptor (the file may have been swapped in between).
    """
    fd_dir, name = folder_of(path, root)
    try:
        mode = os.lstat(name, dir_fd=fd_dir).st_mode
        if not stat.S_ISREG(mode):
            raise not_regular(os.fspath(path), mode)
        flags = os.O_RDONLY | _NOFOLLOW | _CLOEXEC | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0)
        try:
            fd = os.open(name, flags, dir_fd=fd_dir)
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            raise not_regular(os.fspath(path), stat.S_IFLNK) from None
    finally:
        os.close(fd_dir)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise not_regular(os.fspath(path), mode)
        chunks = []
        left = limit
        while left != 0 and (chunk := os.read(fd, 1 << 20 if left < 0 else min(left, 1 << 20))):
            chunks.append(chunk)
            left = left - len(chunk) if left > 0 else left
        return b"".join(chunks)
    finally:
        os.close(fd)


def symlink_on_the_way(root: StrPath, rel: str) -> NotRegular | None:
    """The first link or non-folder among the existing parts of `rel` under `root`."""
    done = os.fspath(root)
    for part in rel.replace(os.sep, "/").split("/"):
        if part in ("", "."):
            continue
        done = os.path.join(done, part)
        try:
            mode = os.lstat(done).st_mode
        except FileNotFoundError:
            return None
        if not stat.S_ISDIR(mode):
            return not_regular(done, mode, folder=True)
    return None


# Why a write failed, in words a responder can act on (the errno name is kept too).
_WRITE_HINTS = {
    errno.EACCES: "permission denied; make the folder and the file writable for you "
    "(`ls -ld` shows the owner and mode)",
    errno.EPERM: "operation not permitted; the file or folder may be immutable "
    "(`lsattr` shows it; `chattr -i` clears it)",
    errno.EROFS: "the file system is read-only; remount it read-write or work in a writable clone",
    errno.ENOSPC: "no space left on the device; free some space and run the command again",
    errno.EDQUOT: "the disk quota is used up; free some space and run the command again",
    errno.ENAMETOOLONG: "the file name is too long for the file system; use a shorter title "
    "or `incidents_dir`",
    errno.ENOTDIR: "a part of the path is a file, not a folder; rename or remove it",
    errno.EISDIR: "a folder of that name is in the way; rename or remove it",
    errno.ELOOP: "a part of the path is a symbolic link; incidentctl does not follow links",
    errno.EIO: "an input/output error; check the disk",
}


def write_reason(exc: OSError) -> str:
    """What an OSError from a write means, and what to do."""
    hint = _WRITE_HINTS.get(exc.errno or 0)
    if hint is not None:
        return hint
    name = errno.errorcode.get(exc.errno or 0, "error")
    return f"{(exc.strerror or str(exc)).lower()} ({name})"


def writable(st: os.stat_result, name: str, dir_fd: int) -> bool:
    """Whether the user may write this file: its mode allows it, for root too.

    Root may write any file, but a file no one may write (`chmod 444`) is meant to
    stay as it is, as `vi` and `rm -i` treat it.
    """
    if not st.st_mode & 0o222:
        return False
    effective = os.access in os.supports_effective_ids
    return os.access(name, os.W_OK, dir_fd=dir_fd, effective_ids=effective)
