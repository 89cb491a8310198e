"""inception_1x1: an Inception-v1-style net with vs without the 1x1 reductions before its 3x3/5x5 convs.

The 1x1 "bottleneck" convolutions (Szegedy et al. 2015, Fig. 2b; Lin et al., "Network in Network",
2014) shrink the channels the expensive convolutions see. The original found the reduced net about
half the size (320K vs 661K parameters) but *slightly less* accurate (0.799 vs 0.814) and, against
expectation, slower to train. Our naive module also passes the pool branch through unprojected
(the paper's Fig. 2a), so widths compound and the naive net is far bigger than the original's.
"""
from ..spec import Claim, Condition, Preset, StudySpec, register_study
from ._common import CIFAR_FALLBACK, SMOKE

SPEC = register_study(StudySpec(
    name="inception_1x1",
    description="Inception-v1 with vs without the 1x1 reductions: parameters, accuracy, training speed",
    dataset="cifar10", fallback=CIFAR_FALLBACK, image_size=32,
    original="A small Inception-v1-style net on CIFAR-10 with and without 1x1 reductions: about 320K vs 661K "
             "parameters, accuracy 0.799 vs 0.814, the reduced net slower to train. Settings not given: full uses "
             "GoogLeNet's first two stages at half width, 30 epochs of Adam (one-cycle, peak 2e-3), batch 128.",
    conditions=(
        Condition("reduced", "inception_v1", options={"stages": 2, "width": 0.5}, title="with 1x1 reductions"),
        Condition("naive", "inception_v1_naive", options={"stages": 2, "width": 0.5}, title="naive (no 1x1)"),
    ),
    train={"batch_size": 128, "lr": 2e-3, "optimizer": "adam", "schedule": "onecycle"},
    presets={
        "smoke": SMOKE,
        "quick": Preset(epochs=8, seeds=5, minutes=9, train_size=4000, val_size=1000,
                        options={"width": 0.125, "stages": 1},
                        config={"batch_size": 64}),
        "full": Preset(epochs=30, seeds=5),
    },
    claims=(
        Claim("the 1x1 reductions cut the parameters (original: about half)", "params", "reduced", "<", "naive",
              "about 320K vs 661K", kind="exact"),
        Claim("the naive net is more accurate", "final_acc", "naive", ">", "reduced", "0.814 vs 0.799"),
        Claim("the reduced net trains slower per epoch", "sec_per_epoch", "reduced", ">", "naive",
              "reduced slower (no numbers given)"),
    ),
    figures=("curves",),
))
