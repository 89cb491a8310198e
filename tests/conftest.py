"""Test-wide setup: caches and checkpoints go to temporary folders, never the user's home."""
import os

import pytest


def pytest_configure(config):
    # One cache for the whole session (rendered glyphs are reused across tests); XAICNN_TEST_CACHE keeps
    # it between local runs.
    import tempfile

    os.environ["XAICNN_CACHE"] = os.environ.get("XAICNN_TEST_CACHE") or tempfile.mkdtemp(prefix="xaicnn-cache-")
    os.environ.pop("XAICNN_CHECKPOINT_DIR", None)
    os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def cli(capsys):
    """Run the CLI in-process: returns (exit code, stdout, stderr)."""
    from xaicnn.cli import main

    def run(*argv):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse errors and --help
            code = exc.code
        out, err = capsys.readouterr()
        return code, out, err

    return run
