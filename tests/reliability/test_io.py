"""xaicnn._io: atomic writes, one writer per output, stale temp files, disk faults as one sentence."""
import errno
import os
import stat
import subprocess
import sys

import pytest

from xaicnn._io import OutputLock, atomic_write, check_room, check_writable, remove_stale_temps, write_error
from xaicnn.errors import UserError


def test_atomically_written_files_get_the_umasks_mode(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "a.bin", lambda f: f.write(b"x"))
        os.umask(0o077)
        atomic_write(tmp_path / "b.bin", lambda f: f.write(b"x"))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.bin").stat().st_mode) == 0o644  # as any other file, not mkstemp's 0600
    assert stat.S_IMODE((tmp_path / "b.bin").stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "run.pt"
    atomic_write(target, lambda f: f.write(b"good"))

    def fails(f):
        f.write(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(UserError, match=r"Could not write .*run.pt: the disk is full; free some space"):
        atomic_write(target, fails)
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C (and SIGTERM, raised as one) in the middle of a write
        atomic_write(target, lambda f: (f.write(b"half"), (_ for _ in ()).throw(KeyboardInterrupt())))
    assert target.read_bytes() == b"good"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.pt"]


@pytest.mark.parametrize("code, words", [
    (errno.ENOSPC, "the disk is full"), (errno.EROFS, "read-only"), (errno.EACCES, "permission was denied"),
    (errno.EDQUOT, "quota"), (errno.EIO, "Input/output error"),
])
def test_every_write_error_is_one_sentence_saying_what_to_do(code, words):
    message = str(write_error(OSError(code, os.strerror(code)), "/x/run.pt"))
    assert message.startswith("Could not write /x/run.pt: ") and words in message
    assert message.endswith(".") and message.count(";") == 1


def test_a_second_writer_is_refused_naming_the_holder(tmp_path):
    target = tmp_path / "same.pt"
    holder = subprocess.Popen([sys.executable, "-c", f"""
import sys, time
from xaicnn._io import OutputLock
with OutputLock({str(target)!r}):
    print("locked", flush=True)
    sys.stdin.readline()
"""], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(UserError, match=rf"same.pt is being written by another xaicnn process \(pid {holder.pid}\); "
                                            r"wait for it to finish or stop it, or pass a different --out\."):
            OutputLock(target).acquire()
    finally:
        holder.communicate("\n", timeout=30)
    assert holder.returncode == 0
    with OutputLock(target):  # released when its holder ended: the next writer gets it
        assert (tmp_path / ".same.pt.lock").exists()
    assert not (tmp_path / ".same.pt.lock").exists()  # and the lock file goes with the writer


def test_a_lock_left_by_a_killed_writer_is_not_stale(tmp_path):
    target = tmp_path / "same.pt"
    killed = subprocess.Popen([sys.executable, "-c", f"""
import os, signal
from xaicnn._io import OutputLock
OutputLock({str(target)!r}).acquire()
os.kill(os.getpid(), signal.SIGKILL)
"""])
    assert killed.wait(timeout=60) == -9
    assert (tmp_path / ".same.pt.lock").exists()  # SIGKILL leaves the file, but the kernel dropped the lock
    with OutputLock(target):
        pass
    assert not (tmp_path / ".same.pt.lock").exists()


def test_stale_temps_of_this_output_only_are_removed(tmp_path):
    mine = [".run.pt.4242.abcd_123.tmp", ".run.pt.k2j4h5g6.tmp"]  # this module's name, and the name before the pid
    others = [".run.pt.lock", ".other.pt.4242.abcd_123.tmp", ".run.pt.extra.4242.abcd_123.tmp", "run.pt.x.tmp"]
    for name in mine + others:
        (tmp_path / name).write_bytes(b"x")
    removed = remove_stale_temps(tmp_path / "run.pt")
    assert sorted(p.name for p in removed) == sorted(mine)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(others)


def test_writability_and_room_are_checked_before_work(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="is a file, not a folder"):
        check_writable(tmp_path / "file")
    with pytest.raises(UserError, match=r"Cannot write to .*: part of the path is a file"):
        check_writable(tmp_path / "file" / "below")
    assert check_writable(tmp_path / "new" / "deep") == tmp_path / "new" / "deep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # probed, nothing created
    with pytest.raises(UserError, match=r"Only .* is free on the disk of .* and a checkpoint needs about .*; free some"):
        check_room(tmp_path, 1 << 60, what="a checkpoint")
    check_room(tmp_path, 1)
