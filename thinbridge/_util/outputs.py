"""Writing an output folder safely: one writer at a time, all or nothing, and a full disk said in one line.

``prepare``, ``train`` and ``index`` write a folder of several files that only make sense
together. :func:`replacing_folder` gives them three guarantees:

* **one writer per folder** — an exclusive ``fcntl.flock`` on ``.NAME.lock`` beside the folder
  (:func:`exclusive`). The lock belongs to the open file, so it disappears with the process,
  however it ends (kill -9, power loss, the OOM killer): a stale lock file is harmless. A
  second writer fails at once with one line naming the folder and the holder's process id,
  which the holder writes into the lock file. Taken again in the same process it is re-entrant.
* **all or nothing** — the new files are written into a temporary sibling folder,
  ``.NAME.new-PID`` (same file system, so the final step is a rename), flushed to disk, and
  swapped with the old folder in one ``renameat2(RENAME_EXCHANGE)``; a kill at any moment
  leaves either the old folder, whole, or the new one. Entries of the old folder that the
  command does not own (a feature ``cache/`` in a data folder, a user's notes) are moved into
  the new folder; the rest of the old folder is removed. What a killed swap left behind is
  put right by the next writer, under the lock (:func:`_recover`). Where the file system has no
  exchange (an old kernel, some network file systems) the old folder is renamed aside first.
* **a full disk** — ``OSError(ENOSPC)`` (or a quota) while writing becomes a
  :class:`~thinbridge._util.errors.UserError` of one line, ``no space left on MOUNT while
  writing PATH``, after the temporary folder is removed; the old folder is untouched
  (:func:`no_space`, :func:`space_error`).
"""
from __future__ import annotations

import errno
import os
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from thinbridge._util.errors import UserError

#: suffixes of the temporary siblings of an output folder NAME: ``.NAME.new-PID``, ``.NAME.old-PID``
_NEW, _OLD = ".new-", ".old-"
_FULL = (errno.ENOSPC, errno.EDQUOT)
_held: dict[str, list] = {}  # lock file -> [open file, depth]: re-entrant within a process


def lock_path(folder: str | os.PathLike) -> Path:
    """The lock file of output ``folder``: ``.NAME.lock`` beside it (the folder itself is swapped)."""
    p = Path(os.path.abspath(folder))
    return p.with_name(f".{p.name}.lock")


def _holder(path: Path) -> str:
    try:
        text = path.read_text(errors="replace").split()
    except OSError:
        return "another process"
    return f"process {text[0]}" + (f" ({' '.join(text[1:])})" if len(text) > 1 else "") if text else "another process"


@contextmanager
def exclusive(path: str | os.PathLike, folder: str | os.PathLike, what: str = "") -> Iterator[Path]:
    """Hold an exclusive lock on file ``path`` (made if needed) for the block; ``folder`` and ``what``
    (the command) name it in the lock file and in the error a second writer gets."""
    import fcntl

    path = Path(os.path.abspath(path))
    key = str(path)
    if key in _held:
        _held[key][1] += 1
        try:
            yield path
        finally:
            _held[key][1] -= 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fh = open(path, "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise UserError(f"{folder} is being written by {_holder(path)}; wait for it to finish or choose another "
                            f"folder (lock: {path})") from None
        try:  # the file we locked must still be the one at the path (a finishing writer removes it)
            a, b = os.fstat(fh.fileno()), os.stat(path)
            same = (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)
        except OSError:
            same = False
        if same:
            break
        fh.close()
    try:  # who holds it, for the message a second writer gets (on a full disk the lock holds without it)
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()} {what or Path(sys.argv[0]).name}".strip() + "\n")
        fh.flush()
    except OSError:
        pass
    _held[key] = [fh, 1]
    try:
        yield path
    finally:
        del _held[key]
        try:
            path.unlink()  # under the lock: whoever opened it before will find it gone and retry
        except OSError:
            pass
        fh.close()


def _mount(path: Path) -> str:
    p = Path(os.path.abspath(path))
    while not os.path.ismount(p) and p != p.parent:
        p = p.parent
    return str(p)


def _full(e: BaseException) -> bool:
    """A full disk or quota: ``OSError(ENOSPC)``, or a library's own error that says so (safetensors, faiss)."""
    if isinstance(e, OSError):
        return e.errno in _FULL
    return isinstance(e, Exception) and any(w in str(e) for w in ("No space left on device", "os error 28",
                                                                   "Disk quota exceeded"))


def space_error(e: BaseException, path: str | os.PathLike, note: str = "") -> UserError | None:
    """The one-line error for a full disk (or quota) while writing ``path``; None for any other error."""
    if not _full(e):
        return None
    quota = getattr(e, "errno", None) == errno.EDQUOT or "quota" in str(e)
    where = "quota exceeded" if quota else f"no space left on {_mount(Path(path).parent)}"
    return UserError(f"{where} while writing {path}" + (f"; {note}" if note else ""))


@contextmanager
def no_space(path: str | os.PathLike, note: str = "") -> Iterator[None]:
    """Turn ``OSError(ENOSPC)`` raised in the block into :func:`space_error` naming ``path``."""
    try:
        yield
    except Exception as e:
        err = space_error(e, path, note)
        if err is None:
            raise
        raise err from None


def _fsync(path: Path, directory: bool = False) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as e:
        if e.errno in _FULL:
            raise
    finally:
        os.close(fd)


def _exchange(a: Path, b: Path) -> bool:
    """Swap ``a`` and ``b`` in one step (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(a))


def _siblings(out: Path) -> list[Path]:
    pre = [f".{out.name}{_NEW}", f".{out.name}{_OLD}"]
    try:
        return sorted(p for p in out.parent.iterdir() if any(p.name.startswith(x) for x in pre) and p.is_dir())
    except OSError:
        return []


def _carry(old: Path, out: Path, owned: set[str]) -> None:
    """Move the entries of ``old`` the command does not own into ``out`` (unless ``out`` has them)."""
    for entry in sorted(old.iterdir()):
        if entry.name not in owned and not (out / entry.name).exists():
            os.rename(entry, out / entry.name)


def _recover(out: Path, owned: set[str]) -> None:
    """Put right what a writer of ``out`` killed part-way left (called under the lock)."""
    for left in _siblings(out):
        if not out.exists() and left.name.startswith(f".{out.name}{_OLD}"):
            os.rename(left, out)  # killed between the two renames of a swap without exchange
            continue
        if out.is_dir():
            _carry(left, out, owned)
        shutil.rmtree(left, ignore_errors=True)


def _publish(stage: Path, out: Path, owned: set[str]) -> None:
    for f in stage.rglob("*"):
        if f.is_file():
            _fsync(f)
    _fsync(stage, directory=True)
    if not out.exists():
        os.rename(stage, out)
        old = None
    elif _exchange(stage, out):
        old = stage
    else:
        old = out.with_name(f".{out.name}{_OLD}{os.getpid()}")
        os.rename(out, old)
        os.rename(stage, out)
    _fsync(out.parent, directory=True)
    if old is not None:
        _carry(old, out, owned)
        shutil.rmtree(old, ignore_errors=True)


def _real(folder: str | os.PathLike) -> Path:
    p = Path(os.path.abspath(folder))
    return p.resolve() if p.is_symlink() else p  # a link to a folder: write beside the folder it names


@contextmanager
def replacing_folder(folder: str | os.PathLike, owned: Iterable[str], what: str = "",
                     note: str = "") -> Iterator[Path]:
    """Lock ``folder``, yield a fresh temporary folder to write into and, when the block ends
    without an error, make it ``folder`` in one step (see the module doc). ``owned``: every name
    the command may write (old entries with other names are kept). On an error, Ctrl-C or
    SIGTERM the temporary folder is removed and ``folder`` is as it was; a full disk becomes a
    one-line :class:`UserError` (``note`` is added to it)."""
    out = _real(folder)
    owned = set(owned)
    with exclusive(lock_path(out), folder, what):
        _recover(out, owned)
        stage = out.with_name(f".{out.name}{_NEW}{os.getpid()}")
        shutil.rmtree(stage, ignore_errors=True)
        try:
            stage.mkdir(parents=True)
            yield stage
            _publish(stage, out, owned)
        except BaseException as e:
            full = space_error(e, _named(e, stage, Path(folder)), note or _kept(out)) if _full(e) else None
            shutil.rmtree(stage, ignore_errors=True)
            if full is not None:
                raise full from None
            raise


def _kept(out: Path) -> str:
    return f"nothing in {out} was changed" if out.exists() else "nothing was written"


def _named(e: BaseException, stage: Path, folder: Path) -> Path:
    """The file a full disk stopped, named as it would have been in ``folder``: the error's file name,
    else the file of the temporary folder written last (else the folder)."""
    name = getattr(e, "filename", None)
    if not name:
        try:
            files = [(f.stat().st_mtime_ns, f) for f in stage.rglob("*") if f.is_file()]
        except OSError:
            files = []
        if not files:
            return folder
        name = max(files)[1]
    try:
        return folder / Path(os.fsdecode(name)).resolve().relative_to(stage.resolve())
    except ValueError:
        return Path(os.fsdecode(name))
