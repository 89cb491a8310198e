"""Train or resume one run of a study, wherever it runs: in the study's process, a local worker process or a
Ray task (the backends in :mod:`.local_backend` and :mod:`.ray_backend` all call :func:`train_or_resume`)."""
from __future__ import annotations

import json
import time
from pathlib import Path

from .record import run_marker


def train_or_resume(task: dict) -> dict:
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


class RemoteTraceback(Exception):
    """A worker's traceback, chained to the error it raised (as concurrent.futures does)."""

    def __init__(self, tb: str):
        super().__init__(tb)

    def __str__(self) -> str:
        return f'\n"""\n{self.args[0]}"""'
