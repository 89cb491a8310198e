"""The ``ray`` backend: each run of a study is a Ray task, on a local Ray instance or a cluster
(``pip install 'xaicnn[ray]'``; docs/cluster.md).

The study's machine owns the study folder: a task gets its config (and a resume's checkpoint bytes)
through Ray's object store, trains in a temp folder and sends the finished checkpoint's bytes back, which
are written atomically into ``runs/`` - no shared disk, and the skip/resume planning works whichever
backend trained a run. Ctrl-C cancels the running tasks and keeps the steps they save.
"""
from __future__ import annotations

import contextlib
import os
import signal
import threading
from pathlib import Path

from .._io import atomic_write
from ..errors import Interrupted, UserError
from .execute import RemoteTraceback, train_or_resume
from .record import run_marker

RAY_STOP_GRACE = 5.0  # seconds the Ray tasks have, once cancelled, to send back the step they saved


def import_ray():
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
            reply = {"kind": "done", "result": train_or_resume({**task, "config": {**task["config"], "out": str(path)}})}
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
    err.__cause__ = RemoteTraceback(reply["traceback"])
    raise err


def execute_ray(tasks: list[dict], jobs: int, begun: list[dict], address: str | None):
    """The ``ray`` backend: each run a Ray task asking for its CPUs and GPU. The study (the driver) owns the
    study folder: it sends a task its config and, to resume, the checkpoint's bytes through Ray's object
    store, and writes the checkpoint that comes back. Only as many tasks are handed to Ray as the cluster
    can run at once, so a stop leaves nothing queued. Closing (Ctrl-C, an error) cancels the tasks still
    running, waits :data:`RAY_STOP_GRACE` seconds for the steps they save, and keeps those."""
    from collections import deque

    if not tasks:  # every run is finished: no need for Ray
        return
    ray = import_ray()
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
