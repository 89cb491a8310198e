"""Every file xaicnn writes goes through here: atomic writes, JSON, one writer per output, and a disk
fault turned into one sentence.

- :func:`atomic_write` writes a temp file beside the target, fsyncs it and renames it into place, so a
  crash, a kill or a full disk never leaves a half-written file under the target's name. Temp files are
  named ``.NAME.PID.XXXXXXXX.tmp`` and are removed on any error; only a SIGKILL (or power loss) can
  leave one, and the next writer that holds the output's lock removes it (:func:`remove_stale_temps`).
- :class:`OutputLock` holds an exclusive ``flock`` on ``.NAME.lock`` beside an output for a writer's
  whole life: a second writer is refused with one sentence naming the holder's pid. The kernel drops the
  lock when its process dies, however it dies, so a lock is never stale.
- :func:`check_writable` and :func:`check_room` answer before any work is done: a read-only folder or a
  disk without room for the output is one sentence at start, not a traceback an epoch later.
- :func:`write_error` turns an ``OSError`` of any write (ENOSPC, EROFS, EACCES, ...) into a
  :class:`~xaicnn.errors.UserError` saying what happened and what to do.
"""
from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from .errors import UserError

_REASONS = {
    errno.ENOSPC: ("the disk is full", "free some space or write to another disk"),
    errno.EDQUOT: ("the disk quota is used up", "free some space or write to another disk"),
    errno.EROFS: ("its file system is read-only", "choose an output on a writable disk"),
    errno.EACCES: ("permission was denied", "choose a folder you can write to"),
    errno.EPERM: ("permission was denied", "choose a folder you can write to"),
    errno.ENOTDIR: ("part of the path is a file, not a folder", "choose another path"),
    errno.EISDIR: ("it is a folder", "name a file inside it instead"),
}


def write_error(err: OSError, path: str | Path) -> UserError:
    """The one sentence for an ``OSError`` met while writing ``path``."""
    reason, action = _REASONS.get(err.errno, (err.strerror or str(err), "check the path and the disk"))
    return UserError(f"Could not write {path}: {reason}; {action}.")


def umask() -> int:
    """The process's umask: from /proc on Linux (read-only, safe with threads), else by setting it and
    setting it straight back."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1], 8) for line in f if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError, IndexError):
        mask = os.umask(0)
        os.umask(mask)
        return mask


def atomic_write(path: str | Path, write: Callable) -> Path:
    """Call ``write(file_object)`` on a temp file beside ``path``, then rename it into place (module doc).
    The file gets the mode any other new file would (mkstemp's 0600 is replaced by 0666 & ~umask)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise write_error(err, path) from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~umask())
        os.replace(tmp, path)
    except BaseException as err:  # KeyboardInterrupt and SIGTERM too: no temp file is left behind
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(err, OSError):
            raise write_error(err, path) from None
        raise
    return path


def write_json(path: str | Path, doc, *, indent: int = 1) -> Path:
    """``doc`` as JSON at ``path`` (atomically); values JSON can't hold are written as their ``str``."""
    text = json.dumps(doc, indent=indent, default=str)
    return atomic_write(path, lambda f: f.write(text.encode()))


def json_number(value: float, digits: int = 6) -> float | None:
    """A float as JSON can hold it: rounded to ``digits`` places, None for NaN and infinities (JSON has neither)."""
    return round(float(value), digits) if math.isfinite(value) else None


def _temp_pattern(name: str) -> re.Pattern:
    # .NAME.PID.XXXXXXXX.tmp (this module) or .NAME.XXXXXXXX.tmp (written before the pid was added)
    return re.compile(rf"^\.{re.escape(name)}\.(\d+\.)?[A-Za-z0-9_]{{8}}\.tmp$")


def remove_stale_temps(path: str | Path) -> list[Path]:
    """Remove the temp files that interrupted writers of ``path`` left beside it; returns them.

    Call it only while holding ``path``'s :class:`OutputLock`: then no live writer owns one of them."""
    path = Path(path)
    pattern = _temp_pattern(path.name)
    removed = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(path.parent):
            if pattern.match(entry.name):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed


class OutputLock:
    """One writer per output: an exclusive ``flock`` on ``.NAME.lock`` beside ``path`` (module doc).

    ``with OutputLock(path, flag="--out"):`` - entering refuses (``UserError``) when another process holds
    it, then removes the stale temp files of dead writers; leaving deletes the lock file. Where ``fcntl``
    does not exist (Windows) there is no lock."""

    def __init__(self, path: str | Path, *, flag: str = "--out"):
        self.path = Path(path)
        self.lock_path = self.path.with_name(f".{self.path.name}.lock")
        self.flag = flag
        self._fd: int | None = None

    def __enter__(self) -> "OutputLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def acquire(self) -> None:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not on POSIX
            return
        while True:
            try:
                self.lock_path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o666 & ~umask())
            except OSError as err:
                raise write_error(err, self.path) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise UserError(f"{self.path} is being written by another xaicnn process (pid {holder}); wait for it "
                                f"to finish or stop it, or pass a different {self.flag}.") from None
            try:  # the previous holder may have deleted the file between our open and our lock: lock a fresh one
                same = os.fstat(fd).st_ino == os.stat(self.lock_path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        remove_stale_temps(self.path)

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.lock_path)  # before closing: nobody can lock the old file after we let it go
        os.close(self._fd)
        self._fd = None


def check_writable(folder: str | Path, *, what: str = "the output folder") -> Path:
    """Prove that files can be written in ``folder``, or one sentence. A folder that doesn't exist yet is
    not created (a command refused later leaves nothing behind): the nearest existing folder above it is
    probed instead, and the writes create it. The probe file vanishes when closed. Returns ``folder``."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{folder} ({what}) is a file, not a folder; pass a folder path.")
    existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("."))
    try:
        if not existing.is_dir():
            raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as err:
        reason, action = _REASONS.get(err.errno, (err.strerror or str(err), "check the path and the disk"))
        raise UserError(f"Cannot write to {folder} ({what}): {reason}; {action}.") from None
    return folder


def check_room(folder: str | Path, needed_bytes: int, *, what: str = "the output") -> None:
    """One sentence if the disk holding ``folder`` has less than ``needed_bytes`` free."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return  # can't tell: the write itself will say so if it fails
    if free < needed_bytes:
        raise UserError(f"Only {_mb(free)} is free on the disk of {folder} and {what} needs about {_mb(needed_bytes)}; "
                        f"free some space or write to another disk.")


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n < 2**30 else f"{n / 2**30:.2f} GB"
