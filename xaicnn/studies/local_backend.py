"""The ``local`` backend: a study's runs train in worker processes on this machine, ``jobs`` at a time.

Each worker is a fresh interpreter (a clean torch each) started in a process group of its own, so a
terminal's Ctrl-C reaches only the study, which passes a stop request on to each worker exactly once
(a second signal to a training means "stop at once", not "save first"). A worker told to stop saves the
step it is at; one that has not stopped within :data:`STOP_GRACE` seconds is killed, and its last
checkpoint is what is kept.
"""
from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from pathlib import Path

from .._io import OutputLock
from ..errors import Interrupted, Terminated, UserError
from .execute import RemoteTraceback, train_or_resume

STOP_GRACE = 1.5  # seconds a worker has, once told to stop, to save its step and exit before it is killed


def _worker_entry(control_fd: int, results_fd: int) -> None:
    """A worker process (started by :meth:`_Worker.start`): read its task from ``control``, train it and send
    back ("done", result), ("interrupted", by_sigterm) or ("error", exception, traceback) on ``results``.

    It was born in its own process group, so the terminal's Ctrl-C reaches only the study, which passes it
    on through ``control`` exactly once (a request sent while the worker was starting waits in the pipe).
    If the study itself dies, ``control`` reaches its end and the worker stops as on a SIGTERM: it saves its
    step and exits, never an orphan."""
    import pickle
    import sys
    import traceback
    from multiprocessing.connection import Connection

    control, results = Connection(control_fd, writable=False), Connection(results_fd, readable=False)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_terminated)
    if hasattr(signal, "SIGTTOU"):  # not the terminal's foreground group: write to it even under 'stty tostop'
        signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        task = control.recv()
        threading.Thread(target=_obey, args=(control,), daemon=True).start()
        reply = ("done", train_or_resume(task))
    except KeyboardInterrupt as err:  # stopped outside the training loop (starting up, or a second signal)
        reply = ("interrupted", isinstance(err, Terminated))
    except Interrupted as err:  # the trainer saved where it was and stopped
        reply = ("interrupted", err.exit_code == 143)
    except BaseException as err:  # noqa: BLE001 - every error goes back to the study, which raises it
        tb = traceback.format_exc()
        try:
            pickle.dumps(err)
        except Exception:  # noqa: BLE001
            err = RuntimeError(f"{type(err).__name__}: {err}")
        reply = ("error", err, tb)
    for s in (signal.SIGINT, signal.SIGTERM):  # the reply is final: a late stop request changes nothing
        signal.signal(s, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        results.send(reply)
    # Exit now: the run's files are written and closed, and the interpreter's own teardown (a full garbage
    # collection over torch, scipy, pyarrow...) takes seconds on a busy machine - longer than STOP_GRACE.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(0)


def _raise_terminated(signum, frame):
    raise Terminated()


def _obey(control) -> None:
    """In a worker: turn each stop request of the study into that signal to this process (the trainer's
    handlers then save the step and stop, or stop at once on a second one); the study gone -> SIGTERM."""
    while True:
        try:
            signum = control.recv()
        except (EOFError, OSError):
            os.kill(os.getpid(), signal.SIGTERM)
            return
        os.kill(os.getpid(), signum)


def execute_all(tasks: list[dict], jobs: int, begun: list[dict]):
    """Yield (task, result) as runs finish: in this process, or in ``jobs`` worker processes, started one per
    run as places free up (nothing is queued inside a worker, so a stop starts nothing new). ``begun``
    receives each task as it is handed to a trainer. An error, an interrupt or ``close()`` stops the workers
    still running (:func:`_stop_workers`) before the exception goes on."""
    if jobs == 1 or len(tasks) <= 1 or os.name != "posix":  # (workers need POSIX pipes and process groups)
        for task in tasks:
            begun.append(task)
            yield task, train_or_resume(task)
        return
    from collections import deque
    from multiprocessing.connection import wait

    pending, running, ended = deque(tasks), {}, []  # running: results connection -> _Worker
    reason: BaseException | None = None
    try:
        while pending or running:
            while pending and len(running) < jobs:
                _Worker.start(pending.popleft(), running, begun)
            for conn in wait(list(running)):
                worker = running.pop(conn)
                reply = worker.reply()
                worker.control.close()  # (it has answered: no more requests)
                ended = [w for w in ended if w.process.poll() is None] + [worker]  # (reaps the ones that exited)
                yield worker.task, _outcome(worker, reply)
    except BaseException as err:
        reason = err
        raise
    finally:  # (the ones that replied are only exiting: waited for too, so none outlives the study)
        _stop_workers([*running.values(), *ended], signal.SIGTERM if isinstance(reason, Terminated) else signal.SIGINT)


# A worker runs this; sys.argv[1] is the study's sys.path, so it imports the same xaicnn.
_BOOT = ("import json, sys; sys.path[:0] = [p for p in json.loads(sys.argv[1]) if p not in sys.path]; "
         "from xaicnn.studies.local_backend import _worker_entry; _worker_entry(int(sys.argv[2]), int(sys.argv[3]))")


class _Worker:
    """One process training one run (:func:`_worker_entry`): ``control`` carries its task, then stop
    requests (a signal number); ``results`` brings its reply, and reads as ended once it has exited."""

    def __init__(self, task: dict, process, results, control):
        self.task, self.process, self.results, self.control = task, process, results, control
        self.killed = False
        self.answered = False  # its reply (or its end) was read; results is closed

    @classmethod
    def start(cls, task: dict, running: dict, begun: list) -> None:
        """Start a worker for ``task`` in a process group of its own (set before it runs a line of Python,
        so a Ctrl-C to the study's group never reaches it) and register it in ``running``."""
        import json
        import subprocess
        import sys
        from multiprocessing.connection import Connection

        control_r, control_w = os.pipe()
        results_r, results_w = os.pipe()
        group = {"process_group": 0} if sys.version_info >= (3, 11) else {"start_new_session": True}
        try:
            process = subprocess.Popen([sys.executable, "-c", _BOOT, json.dumps(sys.path), str(control_r),
                                        str(results_w)], pass_fds=(control_r, results_w), stdin=subprocess.DEVNULL,
                                       **(group if os.name == "posix" else {}))
        except BaseException:
            for fd in (control_w, results_r):
                os.close(fd)
            raise
        finally:
            for fd in (control_r, results_w):
                os.close(fd)
        worker = cls(task, process, Connection(results_r, writable=False), Connection(control_w, readable=False))
        running[worker.results] = worker
        begun.append(task)
        with contextlib.suppress(OSError):
            worker.control.send(task)

    def reply(self) -> tuple:
        """Its reply; ("died", exit code) if it ended without one. Closes ``results``."""
        try:
            return self.results.recv()
        except (EOFError, OSError):  # it ended without a word: killed (out of memory, kill -9) or crashed
            self.process.wait()
            self.clear()
            return ("died", self.process.returncode)
        finally:
            self.results.close()
            self.answered = True

    def tell(self, signum: int) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.control.send(int(signum))

    def clear(self) -> None:
        """After it was killed: remove the temp file of a checkpoint write it was in, and its lock file."""
        lock = OutputLock(self.task["config"]["out"])
        with contextlib.suppress(UserError, OSError):
            lock.acquire()  # removes the dead writer's temp files; releasing deletes the lock file
        lock.release()


def _outcome(worker: _Worker, reply: tuple) -> dict:
    """A worker's result, or its error raised here."""
    kind = reply[0]
    if kind == "done":
        return reply[1]
    if kind == "interrupted":  # someone stopped that worker itself: the study stops too
        raise Terminated() if reply[1] else KeyboardInterrupt()
    if kind == "error":
        err, tb = reply[1], reply[2]
        err.__cause__ = RemoteTraceback(tb)
        raise err
    code = reply[1]
    how = f"by signal {-code}" if code is not None and code < 0 else f"with exit code {code}"
    raise UserError(f"The process training {Path(worker.task['config']['out']).stem} ended {how} before it finished "
                    f"(out of memory?); run the same command again to continue from its last checkpoint, with fewer "
                    f"--jobs if memory is short.")


def _stop_workers(workers: list[_Worker], signum: int) -> None:
    """Tell each running worker once to stop (it saves the step it is at), give them :data:`STOP_GRACE` seconds,
    kill the ones still running and clear what a killed one may have left (temp file, lock file).

    Meanwhile our own SIGINT/SIGTERM handlers only pass a further signal on: a second Ctrl-C makes the
    trainings stop at once, as it does for a single ``xaicnn train``, and cannot cut this clean-up short."""
    workers = [w for w in workers if w.process.poll() is None or not w.answered]
    if not workers:
        return
    from multiprocessing.connection import wait

    asked: list[int] = []
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for s in (signal.SIGINT, signal.SIGTERM):
            previous[s] = signal.signal(s, lambda signum, frame: asked.append(signum))
    try:
        for worker in workers:
            worker.tell(signum)
        deadline = time.monotonic() + STOP_GRACE
        while (alive := [w for w in workers if w.process.poll() is None]) and time.monotonic() < deadline:
            while asked:
                again = asked.pop(0)
                for worker in alive:
                    worker.tell(again)
            listening = {w.results: w for w in alive if not w.answered}
            timeout = min(0.05, max(0.0, deadline - time.monotonic()))
            if not listening:  # all have answered and are exiting
                time.sleep(timeout)
            for conn in wait(list(listening), timeout=timeout) if listening else ():
                listening[conn].reply()  # read (and dropped): the checkpoints on disk say what was kept
        for worker in workers:
            if worker.process.poll() is None:
                worker.process.kill()
                worker.killed = True
            worker.process.wait()
            for conn in (worker.results, worker.control):
                conn.close()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    for worker in workers:
        if worker.killed:  # its checkpoint write may have been cut short: no temp file or lock file stays
            worker.clear()
