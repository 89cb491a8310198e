"""Issue 15: a study's runs as Ray tasks give the local backend's numbers and checkpoints, bit for bit (same
seed, CPU), and a second call trains nothing. Skipped where Ray is not installed (pip install 'xaicnn[ray]')."""
import json
import os

import pytest

import torch

from xaicnn import studies
from xaicnn.errors import UserError
from xaicnn.training.checkpoint import read_checkpoint

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # nothing phones home

STUDY = "inception_1x1"  # the smallest smoke grid: 2 conditions x 2 seeds
TIMED = ("sec_per_epoch", "total_time")  # measured on this machine, not computed: differ between any two runs


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray instance with 2 CPUs and no dashboard, shared by this module's tests (the study uses it)."""
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'xaicnn[ray]')")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    yield
    ray.shutdown()


def _run(out, backend, log):
    return studies.run_study(STUDY, "smoke", dataset="digits", out=out, jobs=2, progress=False, backend=backend,
                             log=lambda *a, **k: log.append(" ".join(map(str, a))))


def _numbers(folder):
    """What a study computed from its runs: per-run results, the table and the claims, less the timings."""
    record = json.loads((folder / "study.json").read_text())
    untimed = lambda row: {k: v for k, v in row.items() if not k.startswith(TIMED)}  # noqa: E731
    claims = [{k: c[k] for k in ("claim", "verdict", "difference", "p_value")}
              for c in record["claims"] if c["metric"] not in TIMED]
    return [untimed(r) for r in record["runs"]], [untimed(r) for r in record["table"]], claims, \
        [c["verdict"] for c in record["claims"]]


@pytest.mark.slow
def test_ray_backend_matches_local_and_resumes_nothing(local_ray, tmp_path):
    log_ray, log_local = [], []
    on_ray = _run(tmp_path / "ray", "ray", log_ray)
    on_local = _run(tmp_path / "local", "local", log_local)

    runs, table, claims, verdicts = _numbers(on_ray)
    assert len(runs) == 4 and all(r["status"] == "complete" for r in runs)
    assert (runs, table, claims, verdicts) == _numbers(on_local)
    for name in ("reduced-seed0", "naive-seed1"):
        a = read_checkpoint(on_ray / "runs" / f"{name}.pt")["model"]
        b = read_checkpoint(on_local / "runs" / f"{name}.pt")["model"]
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name
    assert any(line.startswith("[4/4]") for line in log_ray)

    # a second call: every run is finished, nothing trains, no checkpoint is rewritten
    before = {p: p.stat().st_mtime_ns for p in (on_ray / "runs").glob("*.pt")}
    again = []
    _run(on_ray, "ray", again)
    assert "0 runs to train, 4 already finished" in again[0]
    assert not any(line.startswith("[") for line in again)
    assert {p: p.stat().st_mtime_ns for p in (on_ray / "runs").glob("*.pt")} == before



def test_without_ray_the_backend_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setitem(__import__("sys").modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(UserError, match=r"pip install 'xaicnn\[ray\]'"):
        _run(tmp_path / "study", "ray", [])
    assert not (tmp_path / "study").exists()  # refused before anything was written


def test_address_is_for_the_ray_backend(tmp_path):
    with pytest.raises(UserError, match="--backend ray"):
        studies.run_study(STUDY, "smoke", dataset="digits", out=tmp_path / "s", address="auto")
