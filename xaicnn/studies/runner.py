"""Run a study: plan conditions x seeds, check the data first, train what is missing, then write the report.

Each run is one checkpoint ``DIR/runs/<condition>-seed<k>.pt`` written by the ordinary trainer, so the
comparison app and ``xaicnn inspect`` read study runs like any other. Starting a study again skips the
finished runs and resumes the unfinished ones from their last epoch; ``jobs > 1`` trains independent runs
in parallel processes (fresh interpreters, so each gets a clean torch), splitting the CPU cores between them.

One study writes a folder at a time (an :class:`~xaicnn._io.OutputLock` on ``study.json``). Ctrl-C or
SIGTERM starts nothing new and stops within about two seconds: each worker is told once to save the step it
is at and stop (a worker that does not stop within :data:`STOP_GRACE` seconds is killed, and its last
checkpoint is what is kept), then one sentence says what was kept (:class:`~xaicnn.errors.Interrupted`).
Workers run in their own process groups, so a terminal's Ctrl-C reaches only the study, which passes it on
exactly once (a second signal to a training means "stop at once", not "save first").

Where the runs train is a backend (:data:`BACKENDS`): ``local`` (the worker processes above, the default) or
``ray`` (each run a Ray task on a local Ray instance or a cluster, ``pip install 'xaicnn[ray]'``; see
docs/cluster.md). Whichever trains a run, its checkpoint lands in the same ``runs/`` file, so a study started
on one backend is finished on the other.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from ..errors import Interrupted, Terminated, UserError
from .._io import OutputLock, write_json
from .record import load_record, new_record, run_marker
from .spec import StudySpec, get

DEFAULT_ROOT = Path("studies")  # default --out is studies/<name>/ (git-ignored)
STOP_GRACE = 1.5  # seconds a worker has, once told to stop, to save its step and exit before it is killed
RAY_STOP_GRACE = 5.0  # seconds the Ray tasks have, once cancelled, to send back the step they saved

# TrainConfig fields that define what a run trains: a checkpoint whose values differ belongs to another study.
IDENTITY_FIELDS = ("arch", "dataset", "epochs", "batch_size", "lr", "optimizer", "schedule", "weight_decay",
                   "label_smoothing", "seed", "augment", "image_size", "train_size", "val_size", "model_options",
                   "time_budget")


@dataclass
class PlannedRun:
    """One training run of a study: ``config`` is a complete TrainConfig (``out`` = its checkpoint)."""

    condition: str
    seed: int
    config: object  # TrainConfig

    @property
    def name(self) -> str:
        return f"{self.condition}-seed{self.seed}"

    @property
    def path(self) -> Path:
        return Path(self.config.out)


def default_out(name: str) -> Path:
    return DEFAULT_ROOT / name


def _image_size(spec: StudySpec, dataset: str, data_dir, option_sets: list[tuple[str, dict]]) -> int | None:
    """The input side every condition trains on: the original's (``spec.image_size``) or the dataset's own,
    raised to the smallest size every architecture accepts (MNIST's 28 -> 32 for VGG); ``None`` when it is
    the dataset's own size (no resizing)."""
    from .. import data, models

    import torch

    info = data.info(dataset, data_dir)
    native = info.image_size[0]
    target = spec.image_size or native
    for arch, opts in option_sets:
        try:  # the common case: it fits (one shape pass on the meta device, no bisection)
            with torch.device("meta"):
                models.create(arch, in_channels=info.in_channels, num_classes=info.num_classes, image_size=target,
                              **opts)
        except UserError:
            target = max(target, models.min_image_size(arch, in_channels=info.in_channels, num_classes=info.num_classes,
                                                       **opts))
    return None if target == native and info.image_size[0] == info.image_size[1] else target


def plan_runs(spec: StudySpec, preset: str, *, seeds: int | None = None, dataset: str | None = None,
              data_dir: str | None = None, out: str | Path | None = None, jobs: int = 1) -> list[PlannedRun]:
    """Every run of ``spec`` under ``preset`` as a complete TrainConfig, in condition-major order."""
    from ..training.config import TrainConfig

    p = spec.preset(preset)
    n = seeds or p.seeds
    if n < 1:
        raise UserError(f"--seeds must be at least 1; got {n}.")
    dataset = dataset or spec.dataset
    out = Path(out) if out else default_out(spec.name)
    settings = {c.label: spec.settings(c, preset) for c in spec.conditions}
    size = _image_size(spec, dataset, data_dir, [(c.arch, settings[c.label][1]) for c in spec.conditions])
    runs = []
    for c in spec.conditions:
        config, options = settings[c.label]
        config = {"image_size": size, **config}  # a preset's explicit image_size wins
        threads = config.pop("threads", None) or (max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else None)
        for k in range(n):
            cfg = TrainConfig(arch=c.arch, dataset=dataset, **config, model_options=dict(options), seed=k,
                              data_dir=str(data_dir) if data_dir else None, threads=threads,
                              out=str(out / "runs" / f"{c.label}-seed{k}.pt"))
            runs.append(PlannedRun(c.label, k, cfg))
    return runs


def check_dataset(spec: StudySpec, dataset: str, data_dir: str | None, download: bool,
                  sizes: tuple[int | None, int | None] | None = None) -> None:
    """Make sure ``dataset`` can be read before anything trains; a missing one is one sentence naming the
    embedded dataset to run on instead. ``sizes`` (train, val) also loads both splits once, so parallel
    workers find the decoded cache instead of decoding it side by side."""
    from .. import data
    from ..data._cache import default_data_dir

    info = data.info(dataset, data_dir)
    splits = [("val", sizes[1] if sizes else 1)] + ([("train", sizes[0])] if sizes or download else [])
    try:
        for split, size in splits:
            data.load(dataset, split, data_dir=data_dir, download=download, size=size, progress=bool(sizes))
    except UserError:
        if info.embedded or download:
            raise
        where = Path(data_dir).expanduser() if data_dir else default_data_dir()
        raise UserError(f"The {spec.name} study trains on {dataset}, which is not under {where}; pass --data-dir with "
                        f"the folder that holds it or --download to fetch it, or run it on embedded data with "
                        f"--dataset {spec.fallback}.") from None


def _identity(config: dict) -> dict:
    return {k: config.get(k) for k in IDENTITY_FIELDS}


def _existing(run: PlannedRun) -> str:
    """'new', 'done' or 'resume' for a planned run, from what its checkpoint (or failure marker) says."""
    from ..training.checkpoint import STATUS_RUNNING, read_checkpoint

    if run_marker(run.path).exists():
        return "done"
    if not run.path.exists():
        return "new"
    meta = read_checkpoint(run.path)["meta"]
    old, new = _identity(meta["config"]), _identity(run.config.to_dict())
    if old != new:
        key = next(k for k in IDENTITY_FIELDS if old[k] != new[k])
        raise UserError(f"{run.path} was trained with {key}={old[key]!r}, not the {new[key]!r} this study now asks "
                        f"for; pass --out to run the study in another folder, or delete that folder.")
    return "resume" if meta["status"] == STATUS_RUNNING else "done"


def _execute(task: dict) -> dict:
    """Train or resume one run (in this process or a spawned worker); returns what the log line needs."""
    import torch

    from ..training import trainer
    from ..training.config import TrainConfig

    config = TrainConfig.from_dict(task["config"])
    progress = task.get("progress", False)
    log = print if progress else (lambda *a, **k: None)
    start, threads = time.perf_counter(), torch.get_num_threads()
    try:
        if task["mode"] == "resume":
            trainer.resume(config.out, progress=progress, log=log, epochs=config.epochs, threads=config.threads)
        else:
            trainer.train(config, progress=progress, log=log)
        status = "complete"
    except trainer.TrainingDiverged as err:
        status = f"diverged: {err}"
        if not Path(config.out).exists():
            run_marker(Path(config.out)).write_text(json.dumps({"status": "diverged", "detail": str(err)}))
    finally:
        torch.set_num_threads(threads)  # the trainer sets a run's thread count process-wide; give it back
    return {"name": Path(config.out).stem, "status": status, "seconds": time.perf_counter() - start}


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
        reply = ("done", _execute(task))
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


def _describe(result: dict) -> str:
    from ..training.checkpoint import read_checkpoint

    path = Path(result.get("path", ""))
    if result["status"] != "complete" or not path.exists():
        return result["status"]
    h = read_checkpoint(path)["history"]
    return f"val acc {h[-1]['val_acc']:.3f}" if h else "no epochs"


def run_study(name: str | StudySpec, preset: str = "quick", *, seeds: int | None = None, dataset: str | None = None,
              data_dir: str | None = None, download: bool = False, out: str | Path | None = None, jobs: int = 1,
              progress: bool = True, log: Callable = print, backend: str = "local", address: str | None = None) -> Path:
    """Run study ``name`` (or a :class:`StudySpec`) under ``preset`` and write its report; returns the folder.

    ``seeds`` overrides the preset's number of seeds; ``dataset`` replaces the original dataset (e.g.
    ``digits`` when CIFAR-10 is not on disk); ``out`` defaults to ``studies/<name>/``. Finished runs in
    ``out/runs/`` are skipped, unfinished ones resumed. A missing dataset raises :class:`UserError` before
    anything trains, and so does a folder another study is writing. Ctrl-C or SIGTERM stops the runs in
    training (each saves its step) and raises :class:`~xaicnn.errors.Interrupted` saying what was kept.
    ``backend`` is a name in :data:`BACKENDS`; ``address`` (``ray`` only) is the Ray cluster to join ("auto" or
    HOST:PORT; none: a local Ray instance with ``jobs`` CPUs is started for the study).
    """
    spec = get(name) if isinstance(name, str) else name
    if jobs < 1:
        raise UserError(f"--jobs must be at least 1; got {jobs}.")
    if backend not in BACKENDS:
        raise UserError(f"Unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}.")
    if address is not None and not BACKENDS[backend].takes_address:
        raise UserError(f"--address names a Ray cluster; pass --backend ray with it (the {backend} backend trains here).")
    BACKENDS[backend].check()  # e.g. Ray not installed: one sentence before anything is written
    out = Path(out) if out else default_out(spec.name)
    dataset = dataset or spec.dataset
    if spec.compute is None:
        spec.preset(preset)  # an unknown preset is refused before anything is written
    created = not out.exists()
    try:
        with OutputLock(out / "study.json", flag="--out"):  # one study writes a folder at a time
            return _run_locked(spec, preset, seeds=seeds, dataset=dataset, data_dir=data_dir, download=download,
                               out=out, jobs=jobs, progress=progress, log=log, backend=BACKENDS[backend],
                               address=address)
    finally:
        if created:  # refused before anything was written (e.g. a missing dataset): leave no empty folder
            with contextlib.suppress(OSError):
                out.rmdir()


def _run_locked(spec: StudySpec, preset: str, *, seeds, dataset, data_dir, download, out: Path, jobs: int, progress,
                log, backend: "Backend", address: str | None) -> Path:
    previous = load_record(out)
    if previous and tuple(previous.get(k) for k in ("name", "preset", "dataset")) != (spec.name, preset, dataset):
        raise UserError(f"{out} holds the {previous.get('preset')} preset of {previous.get('name')} on "
                        f"{previous.get('dataset')}; pass --out to run this one in another folder, or delete {out} "
                        f"to start over.")
    from .report import write_report

    started = time.perf_counter()
    spent_before = (previous or {}).get("seconds", 0.0)
    if spec.compute is not None:  # trains nothing: compute, then report
        record = new_record(spec, preset, 0, dataset, data_dir, jobs, [])
        write_json(out / "study.json", record)
        return write_report(out, log=log, seconds=spent_before + time.perf_counter() - started)

    # (on a cluster the runs' threads are not this machine's cores split by --jobs: each asks for what it needs)
    runs = plan_runs(spec, preset, seeds=seeds, dataset=dataset, data_dir=data_dir, out=out,
                     jobs=1 if address else jobs)
    p = spec.preset(preset)
    check_dataset(spec, dataset, data_dir, download, sizes=(p.train_size, p.val_size) if jobs > 1 or download else None)
    record = new_record(spec, preset, seeds or p.seeds, dataset, data_dir, jobs, runs)
    record["seconds"] = spent_before
    (out / "runs").mkdir(parents=True, exist_ok=True)
    write_json(out / "study.json", record)

    states: dict[str, str] = {}  # run name -> 'new', 'done' or 'resume' as this session found it
    begun: list[dict] = []  # the tasks handed to a trainer so far (filled by _execute_all)
    finished: set[str] = set()  # the checkpoint paths of the runs that came back
    try:
        for r in runs:
            states[r.name] = _existing(r)
        todo = [r for r in runs if states[r.name] != "done"]
        skipped = len(runs) - len(todo)
        log(f"study {spec.name} ({preset}): {len(spec.conditions)} conditions x {seeds or p.seeds} seeds on {dataset}; "
            f"{len(todo)} runs to train" + (f", {skipped} already finished" if skipped else "") + f" -> {out}")
        # (the check above downloaded what was asked for: workers never race to download the same files)
        one_bar = backend.grid_bar and progress  # one bar for the grid instead of each run's own
        tasks = [{"config": replace(r.config, download=False).to_dict(),
                  "progress": progress and jobs == 1 and not backend.grid_bar,
                  "mode": "resume" if states[r.name] == "resume" else "train"} for r in todo]
        bar = _grid_bar(len(tasks)) if one_bar and tasks else None
        # closing stops the workers (or cancels the tasks) still running
        with bar or contextlib.nullcontext(), contextlib.closing(backend.execute(tasks, jobs, begun, address)) as results:
            for i, (task, result) in enumerate(results, 1):
                finished.add(task["config"]["out"])
                result["path"] = task["config"]["out"]
                line = f"[{i}/{len(tasks)}] {result['name']}: {_describe(result)} ({result['seconds']:.0f}s)"
                if bar is not None:
                    with bar.external_write_mode():
                        log(line)
                    bar.update()
                else:
                    log(line)
        return write_report(out, log=log, seconds=spent_before + time.perf_counter() - started)
    except BaseException as err:  # keep the time spent, so the report's total counts every session
        write_json(out / "study.json", {**record, "seconds": spent_before + time.perf_counter() - started})
        if isinstance(err, (KeyboardInterrupt, Interrupted)):  # Ctrl-C, SIGTERM, or a trainer that was stopped
            terminated = isinstance(err, Terminated) or getattr(err, "exit_code", 130) == 143
            raise Interrupted(_kept(out, runs, states, finished, begun), terminated=terminated) from None
        raise


def _kept(out: Path, runs: list[PlannedRun], states: dict[str, str], finished: set[str], begun: list[dict]) -> str:
    """The sentence that says what an interrupted study kept: finished runs, unfinished ones with a checkpoint
    and runs stopped before their first one. Only the runs whose files may have changed this session are read
    again (the ones that began, or all of them if it was interrupted before it had looked)."""
    begun_paths = {task["config"]["out"] for task in begun}
    count = {"done": 0, "saved": 0, "none": 0}
    for r in runs:
        path = str(r.path)
        if path in finished:
            state = "done"
        elif path in begun_paths or r.name not in states:
            state = _state_now(r.path)
        else:  # untouched this session
            state = {"done": "done", "resume": "saved"}.get(states[r.name], "untouched")
        if state != "none" or path in begun_paths:  # (a run never begun has lost nothing)
            count[state] = count.get(state, 0) + 1
    done, saved, lost, total = count["done"], count["saved"], count["none"], len(runs)
    runs_dir = out / "runs"
    if done == total:
        return (f"all {total} runs finished (kept in {runs_dir}) but the report was not written; run the same command "
                f"again to write it.")
    parts = [f"{done} of {total} runs finished (kept in {runs_dir})" if done else f"none of the {total} runs had finished"]
    if saved:
        parts.append(f"{saved} unfinished run{'s' * (saved != 1)} {'were' if saved != 1 else 'was'} saved at "
                     f"{'their' if saved != 1 else 'its'} last checkpoint" + ("" if done else f" in {runs_dir}"))
    if lost:
        parts.append(f"{lost} run{'s' * (lost != 1)} stopped before {'their' if lost != 1 else 'its'} first "
                     f"checkpoint and will start over")
    return "; ".join(parts) + "; run the same command again to continue."


def _state_now(path: Path) -> str:
    """'done', 'saved' (an unfinished run with a checkpoint) or 'none' (no checkpoint yet) for a run's file."""
    from ..training.checkpoint import STATUS_RUNNING, read_checkpoint

    if run_marker(path).exists():
        return "done"
    if not path.exists():
        return "none"
    try:
        return "saved" if read_checkpoint(path)["meta"]["status"] == STATUS_RUNNING else "done"
    except (UserError, OSError):  # unreadable: it is not a finished run
        return "none"


def _execute_all(tasks: list[dict], jobs: int, begun: list[dict]):
    """Yield (task, result) as runs finish: in this process, or in ``jobs`` worker processes, started one per
    run as places free up (nothing is queued inside a worker, so a stop starts nothing new). ``begun``
    receives each task as it is handed to a trainer. An error, an interrupt or ``close()`` stops the workers
    still running (:func:`_stop_workers`) before the exception goes on."""
    if jobs == 1 or len(tasks) <= 1 or os.name != "posix":  # (workers need POSIX pipes and process groups)
        for task in tasks:
            begun.append(task)
            yield task, _execute(task)
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


class _RemoteTraceback(Exception):
    """A worker's traceback, chained to the error it raised (as concurrent.futures does)."""

    def __init__(self, tb: str):
        super().__init__(tb)

    def __str__(self) -> str:
        return f'\n"""\n{self.args[0]}"""'


# A worker runs this; sys.argv[1] is the study's sys.path, so it imports the same xaicnn.
_BOOT = ("import json, sys; sys.path[:0] = [p for p in json.loads(sys.argv[1]) if p not in sys.path]; "
         "from xaicnn.studies.runner import _worker_entry; _worker_entry(int(sys.argv[2]), int(sys.argv[3]))")


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
        err.__cause__ = _RemoteTraceback(tb)
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


# ----------------------------------------------------------------------------------------------------
# backends: where the runs of a study train


@dataclass(frozen=True)
class Backend:
    """Where a study's runs train. ``execute(tasks, jobs, begun, address)`` yields (task, result) as runs
    finish, with the run's checkpoint already in its ``runs/`` file, and appends each task to ``begun`` as
    it is handed to a trainer; closing it stops what still runs (each run keeps its last checkpoint).
    ``check()`` raises :class:`UserError` before anything is written when the backend can't be used."""

    execute: Callable
    check: Callable = lambda: None
    takes_address: bool = False  # runs elsewhere: --address names where
    grid_bar: bool = False  # one progress bar for the grid (runs done / total) instead of each run's own


def _grid_bar(total: int):
    from tqdm import tqdm

    return tqdm(total=total, unit="run", desc="runs", dynamic_ncols=True, smoothing=0)


def _import_ray():
    """The ``ray`` module, or one sentence saying how to install it. Usage reporting is switched off first
    (nothing phones home), unless the user chose otherwise in the environment."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        import ray
    except ImportError:
        raise UserError("The ray backend needs Ray, which is not installed here; install it with "
                        "pip install 'xaicnn[ray]' (or run the study with --backend local).") from None
    return ray


def _connect_ray(ray, jobs: int, address: str | None) -> bool:
    """Join the cluster at ``address``, or start a local Ray instance with ``jobs`` CPUs, no dashboard and the
    workers' output kept out of the study's; an instance this process already joined is used as it is.
    Returns whether this call connected (and so must disconnect)."""
    import logging

    if ray.is_initialized():
        return False
    quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING}
    # Ray's core worker installs its own SIGTERM handler (a crash dump, then exit): keep the study's, so a
    # kill cancels the tasks and says what was kept, as Ctrl-C does
    main = threading.current_thread() is threading.main_thread()
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)} if main else {}
    try:
        if address:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        else:
            ray.init(num_cpus=jobs, **quiet)
    except ConnectionError as err:
        raise UserError(f"Could not reach a Ray cluster at {address} ({err}); start one with 'ray start --head' "
                        f"(docs/cluster.md) or drop --address to run on a local Ray instance.") from None
    finally:
        for s, handler in handlers.items():
            if handler is not None:
                signal.signal(s, handler)
    return True


def _ray_resources(task: dict, cluster: dict) -> tuple[int, int]:
    """(CPUs, GPUs) a run asks for: its threads (one when unset) and one GPU when it trains on CUDA (device
    cuda*, or auto on a cluster that has GPUs)."""
    config = task["config"]
    device = str(config.get("device") or "auto")
    gpu = device.startswith("cuda") or (device == "auto" and cluster.get("GPU", 0) > 0)
    return max(1, int(config.get("threads") or 1)), int(gpu)


def _ray_train(task: dict, checkpoint: bytes | None) -> dict:
    """One run as a Ray task, on whichever machine Ray chose: train (or resume from ``checkpoint``, the
    study's file as bytes) in a private temp folder, and send back the reply with the checkpoint's bytes
    (and a divergence note) - no filesystem is shared with the study. A cancel (KeyboardInterrupt) saves
    the step the run is at, which comes back as an "interrupted" reply."""
    import pickle
    import tempfile
    import traceback

    with tempfile.TemporaryDirectory(prefix="xaicnn-run-") as tmp:
        path = Path(tmp) / Path(task["config"]["out"]).name
        if checkpoint is not None:
            path.write_bytes(checkpoint)
        try:
            reply = {"kind": "done", "result": _execute({**task, "config": {**task["config"], "out": str(path)}})}
        except (KeyboardInterrupt, Interrupted):
            reply = {"kind": "interrupted"}
        except BaseException as err:  # noqa: BLE001 - it goes back to the study, which raises it
            tb = traceback.format_exc()
            try:
                pickle.dumps(err)
            except Exception:  # noqa: BLE001
                err = RuntimeError(f"{type(err).__name__}: {err}")
            reply = {"kind": "error", "error": err, "traceback": tb}
        reply["checkpoint"] = path.read_bytes() if path.exists() else None
        marker = run_marker(path)
        reply["marker"] = marker.read_text() if marker.exists() else None
    return reply


def _land(task: dict, reply: dict) -> None:
    """Write what a Ray task sent back into the study's runs/ folder (atomically: a file is the old one or
    the new one, never half of either)."""
    from .._io import atomic_write

    out = Path(task["config"]["out"])
    if reply.get("checkpoint") is not None:
        atomic_write(out, lambda f: f.write(reply["checkpoint"]))
    if reply.get("marker") is not None:
        atomic_write(run_marker(out), lambda f: f.write(reply["marker"].encode()))


def _ray_outcome(reply: dict) -> dict:
    if reply["kind"] == "done":
        return reply["result"]
    if reply["kind"] == "interrupted":  # someone cancelled that task itself: the study stops too
        raise KeyboardInterrupt()
    err = reply["error"]
    err.__cause__ = _RemoteTraceback(reply["traceback"])
    raise err


def _execute_ray(tasks: list[dict], jobs: int, begun: list[dict], address: str | None):
    """The ``ray`` backend: each run a Ray task asking for its CPUs and GPU. The study (the driver) owns the
    study folder: it sends a task its config and, to resume, the checkpoint's bytes through Ray's object
    store, and writes the checkpoint that comes back. Only as many tasks are handed to Ray as the cluster
    can run at once, so a stop leaves nothing queued. Closing (Ctrl-C, an error) cancels the tasks still
    running, waits :data:`RAY_STOP_GRACE` seconds for the steps they save, and keeps those."""
    from collections import deque

    if not tasks:  # every run is finished: no need for Ray
        return
    ray = _import_ray()
    connected = _connect_ray(ray, jobs, address)
    running: dict = {}  # ObjectRef -> task
    try:
        cluster = ray.cluster_resources()
        remote = ray.remote(_ray_train)
        pending = deque(tasks)
        while pending or running:
            while pending:
                cpus, gpus = _ray_resources(pending[0], cluster)
                room = min(int(cluster.get("CPU", 1) // cpus), int(cluster.get("GPU", 0) // gpus) if gpus else 1 << 30)
                if running and len(running) >= max(1, room):
                    break
                task = pending.popleft()
                path = Path(task["config"]["out"])
                checkpoint = path.read_bytes() if task["mode"] == "resume" else None
                running[remote.options(num_cpus=cpus, num_gpus=gpus, max_retries=0).remote(task, checkpoint)] = task
                begun.append(task)
            ready, _ = ray.wait(list(running), num_returns=1, timeout=0.5)  # (short: Ctrl-C lands at once)
            for ref in ready:
                task = running.pop(ref)
                reply = ray.get(ref)
                _land(task, reply)
                yield task, _ray_outcome(reply)
    finally:
        try:
            _cancel_ray(ray, running)
        finally:
            if connected:
                ray.shutdown()


def _cancel_ray(ray, running: dict) -> None:
    """Cancel the tasks still running and keep the checkpoints of the ones that saved their step in time."""
    if not running:
        return
    for ref in running:
        with contextlib.suppress(Exception):
            ray.cancel(ref)
    ready, _ = ray.wait(list(running), num_returns=len(running), timeout=RAY_STOP_GRACE)
    for ref in ready:
        try:
            reply = ray.get(ref)
        except Exception:  # noqa: BLE001 - cancelled before it could answer: the study's file is what is kept
            continue
        with contextlib.suppress(UserError):
            _land(running[ref], reply)


BACKENDS: dict[str, Backend] = {
    "local": Backend(execute=lambda tasks, jobs, begun, address: _execute_all(tasks, jobs, begun)),
    "ray": Backend(execute=_execute_ray, check=lambda: _import_ray() and None, takes_address=True, grid_bar=True),
}
