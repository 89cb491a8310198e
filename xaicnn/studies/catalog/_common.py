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

# The original reports (../shared/seeds/ in the project's work area; see its README): claims cite them by file.
CNN_LAB = "000_17c1f6e4dcaf675a.txt"  # CNN architecture lab: augmentation, kernel size, 1x1, depth 50, ResNet depth
MNIST_HOMEWORK = "001_9a5d80219a0cbcc5.txt"  # MNIST models around one block, Integrated Gradients
ALPHA_PROJECT = "002_9430b328472a79c2.txt"  # 52-class letters and digits under a parameter / time budget
LECTURE_NOTES = "003_5e4d8ea69c0591df.txt"  # CS231n lecture 9 notes: shapes, parameters, operations
RESNET_EXERCISE = "004_a1fa8b2650af91a7.txt"  # FC20 / FC56 vs ResNet-18 (paper exercise on He et al. 2016)
