"""Where and how a run computes: the device (``--device``), bf16 autocast (``--precision``) and the
process group under ``torchrun`` (a single process otherwise)."""
from __future__ import annotations

import os

import torch

from ..errors import UserError


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {name} was asked for but no CUDA GPU is available; use --device cpu or auto.")
    if not (name == "cpu" or name.startswith("cuda")):
        raise UserError(f"--device must be auto, cpu, cuda or cuda:N; got {name!r}.")
    return torch.device(name)


def cpu_has_native_bf16() -> bool:
    """True when the CPU computes bfloat16 in hardware (AVX512-BF16 or AMX): there bf16 autocast roughly doubles
    training throughput (docs/performance.md); elsewhere it is emulated and slower than fp32."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def use_bf16(precision: str, device: torch.device) -> bool:
    """Whether to train under bf16 autocast: ``auto`` picks it where the hardware makes it faster."""
    if precision not in ("auto", "fp32", "bf16"):
        raise UserError(f"--precision must be auto, fp32 or bf16; got {precision!r}.")
    if precision == "auto":
        return torch.cuda.is_bf16_supported() if device.type == "cuda" else cpu_has_native_bf16()
    return precision == "bf16"


class Distributed:
    """Process-group facts (a single process when not started by torchrun)."""

    def __init__(self, device_name: str):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.device = resolve_device(device_name)
        if self.world > 1:
            import torch.distributed as dist

            if self.device.type == "cuda":
                self.device = torch.device("cuda", self.local_rank)
                torch.cuda.set_device(self.device)
            if not dist.is_initialized():
                dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def any(self, flag: bool) -> bool:
        """True on every process if ``flag`` is true on any (one tiny all-reduce; free when alone)."""
        if self.world == 1:
            return flag
        import torch.distributed as dist

        t = torch.tensor([float(flag)], device=self.device if self.device.type == "cuda" else "cpu")
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def sum(self, values: list[float]) -> list[float]:
        if self.world == 1:
            return values
        import torch.distributed as dist

        t = torch.tensor(values, dtype=torch.float64, device=self.device if self.device.type == "cuda" else "cpu")
        dist.all_reduce(t)
        return t.tolist()

    def barrier(self) -> None:
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()
