"""`make demo`'s driver (xaicnn.demo): trains what is missing, skips what exists, serves the app on the folder."""
from pathlib import Path

import pytest

from xaicnn import demo
from xaicnn.training import read_checkpoint

TINY = dict(arch="vgg_block", dataset="digits", epochs=1, batch_size=32, train_size=64, val_size=30)


def test_the_demo_set_is_small_and_on_embedded_data():
    assert {r["dataset"] for r in demo.DEMO_RUNS.values()} <= {"glyphs", "digits"}  # nothing to download
    assert len(demo.DEMO_RUNS) == 6  # the app's default selection, and the six runs docs/app.md times
    for run in demo.DEMO_RUNS.values():  # the 100x100 glyph nets train ~100 img/s on 2 cores: too slow for 5 minutes
        assert run.get("image_size", 32) <= 32 and run["epochs"] * run.get("train_size", 1347) <= 50_000
    seeds = [r.get("seed", 0) for r in demo.DEMO_RUNS.values() if r["arch"] == "vgg_block"]
    assert sorted(seeds) == [0, 1]  # a repeated-seed group for the Overview


def test_train_demo_trains_missing_runs_resumes_none_and_skips_finished_ones(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "DEMO_RUNS", {"a": TINY, "b": {**TINY, "seed": 1}})
    (tmp_path / "b.pt").write_text("garbage")  # a broken file is retrained, not fatal
    lines = []
    paths = demo.train_demo(tmp_path, progress=False, log=lines.append)
    assert paths == [tmp_path / "a.pt", tmp_path / "b.pt"]
    assert [read_checkpoint(p)["meta"]["seed"] for p in paths] == [0, 1]
    assert any(line.startswith("b: ") and "Training it again." in line for line in lines)
    stamps = [p.stat().st_mtime_ns for p in paths]
    lines.clear()
    demo.train_demo(tmp_path, progress=False, log=lines.append)
    assert [p.stat().st_mtime_ns for p in paths] == stamps
    assert lines[:2] == ["a: already trained (complete), skipped.", "b: already trained (complete), skipped."]


def test_the_app_is_served_on_the_demo_folder_with_the_upload_limit(tmp_path):
    command, env = demo.app_command(tmp_path, 8765)
    assert command[1:4] == ["-m", "streamlit", "run"] and Path(command[4]) == demo.APP and demo.APP.is_file()
    flags = dict(zip(command[5::2], command[6::2]))
    assert flags["--server.port"] == "8765" and flags["--server.address"] == "localhost"
    assert flags["--server.maxUploadSize"] == "5" and flags["--server.headless"] == "true"
    assert flags["--runner.postScriptGC"] == "false"  # ~0.3 s per interaction otherwise
    assert env["XAICNN_CHECKPOINT_DIR"] == str(tmp_path.resolve())


def test_a_taken_port_is_skipped():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = s.getsockname()[1]
        assert demo.free_port(taken) != taken


def test_no_free_port_is_one_sentence(monkeypatch):
    from xaicnn.errors import UserError

    class Taken:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def bind(self, address):
            raise OSError("address in use")

    monkeypatch.setattr(demo.socket, "socket", Taken)
    with pytest.raises(UserError, match=r"^Ports 8501-8502 are all taken; pass --port with a free one\.$"):
        demo.free_port(8501, tries=2)
