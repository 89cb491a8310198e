"""Training: the loop (``train``, ``resume``), gradient-flow recording, checkpoint I/O (``load_checkpoint``).

Names are imported lazily so that ``xaicnn.training.config`` (used to build the CLI) does not load torch.
"""
import importlib

_API = {
    "GradientFlowRecorder": "gradient_flow", "Run": "checkpoint", "checkpoint_dir": "checkpoint",
    "load_checkpoint": "checkpoint", "read_checkpoint": "checkpoint", "resolve_checkpoint": "checkpoint",
    "TrainConfig": "config", "TrainingDiverged": "trainer", "predict": "evaluation", "resume": "trainer", "train": "trainer",
}
__all__ = sorted(_API)


def __getattr__(name):
    if name not in _API:
        raise AttributeError(f"module 'xaicnn.training' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_API[name]}", __name__), name)
    globals()[name] = value
    return value
