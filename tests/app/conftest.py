"""Fixtures for the app tests: a folder with two tiny runs trained once per session (about 10 s)."""
import shutil
from pathlib import Path

import pytest

TINY = dict(dataset="digits", epochs=2, batch_size=32, train_size=120, val_size=60)
ARCHS = ("vgg_block", "transformer_block")


def _quiet(*args, **kwargs):
    pass


@pytest.fixture(scope="session")
def trained_runs(tmp_path_factory) -> Path:
    """A read-only folder holding vgg_block.pt and transformer_block.pt (digits, 2 epochs on 120 images)."""
    from xaicnn.training import TrainConfig, train

    folder = tmp_path_factory.mktemp("runs")
    for arch in ARCHS:
        train(TrainConfig(arch=arch, **TINY, out=str(folder / f"{arch}.pt")), progress=False, log=_quiet)
    return folder


@pytest.fixture
def runs_folder(trained_runs, tmp_path) -> Path:
    """A private copy of the two runs that a test may add files to."""
    folder = tmp_path / "runs"
    shutil.copytree(trained_runs, folder)
    return folder
