"""The training configuration: one typed dataclass, defaults with their units, overridden from the CLI."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields


@dataclass
class TrainConfig:
    arch: str
    dataset: str | None = None  # None: the architecture's default dataset (glyphs for *_alpha, digits for block models)
    epochs: int = 4
    batch_size: int = 64  # images per optimiser step, all processes together
    lr: float = 2e-3  # peak learning rate
    optimizer: str = "adam"  # adam | sgd (momentum 0.9, Nesterov)
    schedule: str = "onecycle"  # none | cosine | onecycle, stepped every batch
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    seed: int = 0
    augment: str = "none"  # none | basic | strong (see xaicnn.data.augment)
    image_size: int | None = None  # resize images to this side (pixels); None: the dataset's (or the arch's fixed size)
    train_size: int | None = None  # training images used (class-balanced subset); None: all
    val_size: int | None = None  # validation images used; None: all
    val_subset: int | None = None  # after each epoch but the last, evaluate only this many (a fixed class-balanced
    # subset, in the training precision); the last epoch and a budget stop evaluate them all. None: all, every epoch
    out: str | None = None  # checkpoint path; None: <checkpoint dir>/<arch>.pt
    max_params: int | None = None  # refuse to start a bigger model
    time_budget: float | None = None  # minutes of training; stops cleanly when reached
    save_every: float = 1.0  # minutes between checkpoints inside an epoch (one is always written at its end)
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    threads: int | None = None  # CPU threads per process; None: torch's default
    precision: str = "auto"  # auto | fp32 | bf16 autocast; auto: bf16 where the hardware has it (AVX512-BF16/AMX CPUs, recent GPUs)
    channels_last: bool = True  # NHWC memory format for conv nets (faster with oneDNN and cuDNN)
    grad_flow: bool = True  # record per-parameter gradient statistics every step
    grad_flow_every: int = 0  # also keep a snapshot every N steps (0: per-epoch averages only)
    model_options: dict = field(default_factory=dict)  # architecture options (width, kernel_size, ...)
    data_dir: str | None = None  # folder holding mnist/cifar10 (default: $XAICNN_CACHE or ~/.cache/xaicnn)
    download: bool = False  # allow torchvision to download mnist/cifar10

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})
