"""Per-parameter gradient statistics, recorded during training without a host sync per parameter.

After each backward pass ``update()`` computes, for every parameter tensor, the L2 norm, the mean
absolute value and the maximum absolute value of its gradient with three fused ``torch._foreach_norm``
calls, and adds them to a running sum on the device. ``end_epoch()`` turns the sums into per-epoch
means with a single transfer. This is what the depth experiments plot (layers x epochs).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

STATS = ("norm", "mean_abs", "max_abs")


class GradientFlowRecorder:
    """Record gradient statistics of ``model``'s trainable parameters, averaged over each epoch's steps.

    ``every > 0`` also keeps a snapshot of the three statistics every ``every`` steps.
    No hooks are installed: ``update()`` reads ``param.grad`` after ``backward()``.
    """

    def __init__(self, model: nn.Module, every: int = 0):
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        self.names = [n for n, _ in named]
        self.params = [p for _, p in named]
        device = self.params[0].device if self.params else torch.device("cpu")
        self.numel = torch.tensor([p.numel() for p in self.params], dtype=torch.float32, device=device)
        self.every = every
        self._sum = torch.zeros(3, len(self.params), device=device)
        self._steps = 0
        self._global_step = 0
        self.epochs: list[list[list[float]]] = []  # [epoch][stat][param]
        self.snapshots: list[tuple[int, list[list[float]]]] = []  # (global step, [stat][param])
        self._pending: list[tuple[int, torch.Tensor]] = []

    @torch.no_grad()
    def update(self) -> None:
        grads = [p.grad if p.grad is not None else torch.zeros((), device=p.device) for p in self.params]
        if not grads:
            return
        stats = torch.stack([
            torch.stack(torch._foreach_norm(grads, 2)),
            torch.stack(torch._foreach_norm(grads, 1)) / self.numel,
            torch.stack(torch._foreach_norm(grads, math.inf)),
        ]).float()
        self._sum += stats
        self._steps += 1
        self._global_step += 1
        if self.every and self._global_step % self.every == 0:
            self._pending.append((self._global_step, stats.clone()))

    def end_epoch(self) -> None:
        """Close the epoch: its per-step means become one entry of ``epochs``."""
        if self._steps:
            self.epochs.append((self._sum / self._steps).cpu().tolist())
        self.snapshots += [(step, s.cpu().tolist()) for step, s in self._pending]
        self._pending.clear()
        self._sum.zero_()
        self._steps = 0

    def to_dict(self) -> dict:
        """``{param name: {"norm": [per epoch], "mean_abs": [...], "max_abs": [...]}}``."""
        return {name: {stat: [epoch[k][i] for epoch in self.epochs] for k, stat in enumerate(STATS)}
                for i, name in enumerate(self.names)}

    def state_dict(self) -> dict:
        """Everything, including an epoch in progress (a mid-epoch checkpoint resumes its running sums)."""
        pending = [(step, s.cpu().tolist()) for step, s in self._pending]
        return {"names": self.names, "epochs": self.epochs, "every": self.every, "global_step": self._global_step,
                "snapshot_steps": [s for s, _ in self.snapshots], "snapshots": [v for _, v in self.snapshots],
                "running": {"sum": self._sum.cpu().clone(), "steps": self._steps,
                            "pending_steps": [s for s, _ in pending], "pending": [v for _, v in pending]}}

    def load_state_dict(self, state: dict) -> None:
        if state["names"] != self.names:
            raise ValueError("gradient-flow state belongs to another model")
        self.epochs = [list(map(list, e)) for e in state["epochs"]]
        self._global_step = state["global_step"]
        self.snapshots = list(zip(state["snapshot_steps"], state["snapshots"]))
        running = state.get("running")
        if running:
            self._sum.copy_(running["sum"])
            self._steps = running["steps"]
            self._pending = [(step, torch.tensor(v, device=self._sum.device))
                             for step, v in zip(running["pending_steps"], running["pending"])]
