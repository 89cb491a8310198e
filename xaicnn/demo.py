"""``make demo``: train a small, honest demo set on the embedded data, then open the comparison app on it.

    python -m xaicnn.demo                       # train into checkpoints/demo/, then serve the app on localhost
    python -m xaicnn.demo --no-app              # train only
    python -m xaicnn.demo --out DIR --port 8600

The set (:data:`DEMO_RUNS`, six runs) trains in about half a minute on two idle CPU cores (a few
minutes when other jobs share them): four of the MNIST-scale block models of the mnist_blocks report on
scikit-learn's digits (vgg_block with two seeds, so the Overview shows a repeated-seed row) and LeNet-5
on a class-balanced slice of the 52-class glyphs (a second dataset, as real comparisons have). Nothing
is downloaded. Runs already complete in the folder are skipped and unfinished ones resumed, so a second
``make demo`` opens the app in seconds.
"""
from __future__ import annotations

import argparse
import os
import socket
import sys
import time
from pathlib import Path

from .errors import UserError

APP = Path(__file__).resolve().parents[1] / "apps" / "compare.py"
DEFAULT_OUT = "checkpoints/demo"
MAX_UPLOAD_MB = 5  # the app's upload limit (apps/_uploads.py says the same)

# run name -> TrainConfig fields. Digits: the whole embedded set (1,347 train / 450 val), 4-6 epochs, a few
# seconds per run. Glyphs: LeNet-5 at 32x32 on 100 train / 30 val images per class (5,200 / 1,560), 8
# epochs: about 66% on 52 classes in seconds. (The report's 100x100 glyph nets, bottleneck_alpha and
# plain_alpha, need far more steps than a demo can wait for: 2 epochs on 5,200 glyphs left them at 6% and
# 5%, near chance; `xaicnn train --arch bottleneck_alpha` takes about 9 minutes on two cores for 98.5%, and
# `xaicnn study alpha_bottleneck` trains both.)
DEMO_RUNS: dict[str, dict] = {
    "vgg_block": dict(arch="vgg_block", dataset="digits", epochs=4, seed=0),
    "vgg_block-seed1": dict(arch="vgg_block", dataset="digits", epochs=4, seed=1),
    "bottleneck_block": dict(arch="bottleneck_block", dataset="digits", epochs=6),
    "transformer_block": dict(arch="transformer_block", dataset="digits", epochs=6),
    "sppf_block": dict(arch="sppf_block", dataset="digits", epochs=6),
    "lenet5-glyphs": dict(arch="lenet5", dataset="glyphs", image_size=32, epochs=8, train_size=5200, val_size=1560),
}


def train_demo(folder: str | Path = DEFAULT_OUT, *, progress: bool = True, log=print) -> list[Path]:
    """Train every :data:`DEMO_RUNS` entry into ``folder/<name>.pt`` that is not already complete
    (unfinished runs are resumed, broken files retrained); returns the checkpoint paths."""
    from .training import TrainConfig, read_checkpoint, resume, train

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths, start = [], time.monotonic()
    for name, fields in DEMO_RUNS.items():
        path = folder / f"{name}.pt"
        paths.append(path)
        status = None
        if path.exists():
            try:
                status = read_checkpoint(path)["meta"].get("status")
            except UserError as err:
                log(f"{name}: {err} Training it again.")
        if status is not None and status != "running":
            log(f"{name}: already trained ({status}), skipped.")
            continue
        t = time.monotonic()
        config = TrainConfig(**fields, out=str(path))
        log(f"{name}: {'resuming' if status == 'running' else 'training'} {config.arch} on {config.dataset} "
            f"({config.epochs} epochs{f', {config.train_size:,} images' if config.train_size else ''})...")
        if status == "running":
            resume(path, progress=progress, log=lambda *a, **k: None)
        else:
            train(config, overwrite=True, progress=progress, log=lambda *a, **k: None)
        history = read_checkpoint(path)["history"]
        log(f"{name}: val acc {history[-1]['val_acc']:.3f} after {len(history)} epochs, {time.monotonic() - t:.0f} s.")
    log(f"demo set ready in {folder}/ ({time.monotonic() - start:.0f} s).")
    return paths


def free_port(start: int, address: str = "127.0.0.1", tries: int = 50) -> int:
    """The first port from ``start`` on which nothing listens."""
    for port in range(start, start + tries):
        with socket.socket() as s:
            try:
                s.bind((address, port))
                return port
            except OSError:
                continue
    raise UserError(f"Ports {start}-{start + tries - 1} are all taken; pass --port with a free one.")


def app_command(folder: str | Path, port: int, address: str = "localhost") -> tuple[list[str], dict]:
    """The ``streamlit run apps/compare.py`` command line and environment that serve ``folder``."""
    if not APP.is_file():
        raise UserError(f"The app is not at {APP}; run the demo from a source checkout of xaicnn.")
    command = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true",
               "--server.address", address, "--server.port", str(port), "--server.maxUploadSize", str(MAX_UPLOAD_MB),
               "--runner.postScriptGC", "false",  # a full gc.collect() after every rerun costs ~0.3 s (see .streamlit/)
               "--browser.gatherUsageStats", "false"]
    return command, {**os.environ, "XAICNN_CHECKPOINT_DIR": str(Path(folder).resolve()), "MPLBACKEND": "Agg"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xaicnn.demo",
                                     description="Train the demo set on the embedded data, then serve the comparison app on it.")
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"folder of the demo runs (default {DEFAULT_OUT})")
    parser.add_argument("--port", type=int, default=8501, help="first port to try for the app (default 8501)")
    parser.add_argument("--no-app", action="store_true", help="train the demo set, do not start the app")
    args = parser.parse_args(argv)
    try:
        train_demo(args.out)
        if args.no_app:
            return 0
        port = free_port(args.port)
        command, env = app_command(args.out, port)
    except UserError as err:
        print(f"xaicnn demo: error: {err}", file=sys.stderr)
        return err.exit_code
    print(f"\nOpen http://localhost:{port} in a browser (Ctrl-C stops the app).\n", flush=True)
    os.execvpe(command[0], command, env)  # the app replaces this process: Ctrl-C goes straight to streamlit


if __name__ == "__main__":
    sys.exit(main())
