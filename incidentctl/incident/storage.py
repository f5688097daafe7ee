"""Incident files on disk: reads bounded in size, writes atomic, no link followed."""

from __future__ import annotations

import os
import stat

from ..errors import InvalidIncident, WriteError
from .lines import is_temp_name

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)
if TYPE_CHECKING:
    StrPath = str | os.PathLike[str]


# The largest incident file any command reads or writes (README: "Limits"): a file
# from a pull request cannot make a command's time or memory grow without bound. A
# long incident's file is some 100 KiB; 1 MiB holds about ten thousand entries.
MAX_FILE_BYTES = 1024 * 1024


def too_large(path: str, *, would: bool = False) -> InvalidIncident:
    """The error for a file (or a change) past MAX_FILE_BYTES."""
    what = "the change would make the file" if would else "the file is"
    return InvalidIncident(
        f"{what} larger than {MAX_FILE_BYTES // 1024 // 1024} MiB, the limit for an "
        "incident file; move long logs or attachments elsewhere and link to them",
        path=path,
        rule="file-size",
    )


def encoded_size(text: str) -> int:
    """The size of `text` in UTF-8 (undecodable bytes held as surrogates count one)."""
    if len(text) * 4 <= MAX_FILE_BYTES:
        return len(text)  # too short to matter: spare the encoding
    return len(text.encode("utf-8", errors="surrogatepass"))


def read_limited(file: StrPath, shown: str, root: StrPath | None = None) -> bytes:
    """The bytes of an incident file, reading at most MAX_FILE_BYTES + 1 of them.

    Only a regular file: a link, FIFO, device or folder is refused (rule file-type);
    with `root` (the repository) no link is followed from there down (safefs).
    """
    from .safefs import NotRegular, read_regular

    try:
        raw = read_regular(file, root, limit=MAX_FILE_BYTES + 1)
    except NotRegular as exc:
        where = "" if exc.path == os.fspath(file) else f"{_shown_in(exc.path, root)} "
        raise InvalidIncident(f"{where}{exc.reason}", path=shown, rule="file-type") from None
    except FileNotFoundError:
        raise InvalidIncident("file not found", path=shown) from None
    except (OSError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise InvalidIncident(f"cannot read: {why}", path=shown) from None
    if len(raw) > MAX_FILE_BYTES:
        raise too_large(shown)
    return raw


def decode(data: bytes, path: str) -> str:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise InvalidIncident(
            "the file is UTF-16 text; save it as UTF-8", path=path, line=1, rule="encoding"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InvalidIncident(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8",
            path=path,
            line=line,
            rule="encoding",
        ) from None


def _shown_in(path: str, root: StrPath | None) -> str:
    return os.path.relpath(path, root).replace(os.sep, "/") if root is not None else path


def write_atomic(
    file: StrPath, text: str, *, root: StrPath | None = None, shown: str | None = None
) -> None:
    """Write through a temp file in the same folder, fsync, then rename over the target.

    A crash leaves either the old or the new file, never a half-written one. With
    `root` (the repository), every folder from there down is reached without
    following a link and made when missing (safefs); a link, FIFO or folder at the
    target, and a file its mode keeps read-only (`chmod 444`), are refused. The
    file's mode is kept. Any OSError becomes one WriteError naming the file
    (`shown`, else the path relative to `root`) and what to do.
    """
    from .safefs import NotRegular, folder_of

    path = os.fspath(file)
    display = shown or (os.path.relpath(path, root) if root is not None else path)
    try:
        dir_fd, name = folder_of(path, root, create=True)
    except NotRegular as exc:
        where = exc.path if root is None else os.path.relpath(exc.path, root)
        raise WriteError(f"cannot write: {where} {exc.reason}", path=display) from None
    except (OSError, ValueError) as exc:
        raise _write_error(exc, display) from None
    try:
        _write_in(dir_fd, name, text, display)
    finally:
        os.close(dir_fd)


def _write_error(exc: OSError | ValueError, display: str) -> WriteError:
    from .safefs import write_reason

    if isinstance(exc, ValueError):  # a path outside the repository
        return WriteError(f"cannot write: {exc}", path=display)
    return WriteError(f"cannot write: {write_reason(exc)}", path=display)


def ensure_writable(file: StrPath, *, root: StrPath, shown: str) -> None:
    """Refuse early, as `write_atomic` would, a file that cannot be changed (`edit`)."""
    from .safefs import NotRegular, folder_of

    try:
        dir_fd, name = folder_of(file, root)
    except NotRegular as exc:
        raise WriteError(f"cannot write: {exc.reason}", path=shown) from None
    except (OSError, ValueError) as exc:
        raise _write_error(exc, shown) from None
    try:
        _refuse_unwritable(os.lstat(name, dir_fd=dir_fd), name, dir_fd, shown)
    except OSError as exc:
        raise _write_error(exc, shown) from None
    finally:
        os.close(dir_fd)


def _refuse_unwritable(st: os.stat_result, name: str, dir_fd: int, display: str) -> None:
    import stat

    from .safefs import not_regular, writable

    if not stat.S_ISREG(st.st_mode):
        refused = not_regular(display, st.st_mode)
        raise WriteError(f"cannot write: it {refused.reason}", path=display)
    if not writable(st, name, dir_fd):
        raise WriteError(
            f"the file is read-only (mode {st.st_mode & 0o777:04o}); to change it, make it "
            f"writable (`chmod u+w {display}`) and run the command again",
            path=display,
        )


def _write_in(dir_fd: int, name: str, text: str, display: str) -> None:
    try:
        st = os.lstat(name, dir_fd=dir_fd)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    except OSError as exc:
        raise _write_error(exc, display) from None
    else:
        _refuse_unwritable(st, name, dir_fd, display)
        mode = st.st_mode & 0o7777
    # O_EXCL with a random name, as tempfile.mkstemp does (without its import cost);
    # O_NOFOLLOW and O_EXCL: a link planted at the temp name is never written through.
    tmp = f".{name}.{os.urandom(6).hex()}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(tmp, flags | getattr(os, "O_CLOEXEC", 0), 0o600, dir_fd=dir_fd)
    except OSError as exc:
        raise _write_error(exc, display) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException as exc:
        try:  # noqa: SIM105 (contextlib would be one more import on the `log` path)
            os.unlink(tmp, dir_fd=dir_fd)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError):
            raise _write_error(exc, display) from None
        raise
    try:  # noqa: SIM105 (contextlib would be one more import on the `log` path)
        os.fsync(dir_fd)
    except OSError:  # pragma: no cover - file systems that cannot sync a folder
        pass


def remove_stale_temps(folder: StrPath, root: StrPath | None = None) -> None:
    """Remove the temp files of `write_atomic` that a killed command left in `folder`.

    Call it only while holding the repository lock: every writer of incident files
    holds it, so a temp file seen then belongs to a writer that is gone. With `root`,
    a folder reached through a link is left alone (the write then refuses it).
    """
    from .safefs import NotRegular, folder_of

    try:
        fd, _ = folder_of(os.path.join(folder, "x"), root)
    except (NotRegular, OSError, ValueError):
        return
    try:
        # Names only (a year folder holds thousands), and only the hidden ones tested.
        for name in [n for n in os.listdir(fd) if n[:1] == "."]:
            if not is_temp_name(name):
                continue
            try:
                if stat.S_ISREG(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode):
                    os.unlink(name, dir_fd=fd)
            except FileNotFoundError:  # gone already
                continue
    finally:
        os.close(fd)
