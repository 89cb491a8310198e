"""Presets every study shares the shape of."""
from ..spec import Preset

# smoke: exercises spec, runner, statistics, report and figures in seconds (tiny data, tiny widths, 1 epoch, 2 seeds).
# It shows nothing about the architectures; tests run it on the embedded datasets.
# One thread: tiny nets gain nothing from a second one, and lose much when another process competes for the core.
SMOKE = Preset(epochs=1, seeds=2, train_size=40, val_size=20, config={"batch_size": 20, "threads": 1},
               options={"width": 0.0625, "stages": 1},
               figure_options={"attributions": {"n": 2, "steps": 4, "faithfulness_steps": 2}},
               notes=("smoke preset: a test of the machinery, not of the claims",))

# The embedded stand-in named when CIFAR-10 / MNIST are not on disk.
CIFAR_FALLBACK = "digits"
