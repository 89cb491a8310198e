"""Forward hooks that are always removed: the one way xaicnn registers hooks, runs a pass, and removes them.

Imports only torch, so every package (models, analysis, training) may use it.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterable, Iterator

import torch.nn as nn
from torch.utils.hooks import RemovableHandle


@contextmanager
def forward_hooks(modules: Iterable[nn.Module], hook: Callable, *, pre: bool = False) -> Iterator[list[RemovableHandle]]:
    """Register ``hook`` on every module of ``modules`` while inside; all removed on exit, even on an error.

    ``pre=False``: a forward hook, ``hook(module, inputs, output)``; ``pre=True``: a forward pre-hook,
    ``hook(module, inputs)``, run before the module's ``forward``. Yields the handles (in ``modules``' order).
    A hook that fails to register removes the ones registered before it.
    """
    handles: list[RemovableHandle] = []
    try:
        for module in modules:
            handles.append(module.register_forward_pre_hook(hook) if pre else module.register_forward_hook(hook))
        yield handles
    finally:
        for handle in handles:
            handle.remove()


def first_tensor(output):
    """The tensor a hooked module produced: its output, or the first tensor of a tuple/list output (attention
    layers return (output, weights)); None when there is none."""
    import torch

    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)):
        return next((o for o in output if isinstance(o, torch.Tensor)), None)
    return None
