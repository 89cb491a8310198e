"""One smoke run per study for the whole test session (tests that only read a study share it)."""
import pytest

from xaicnn import studies


def embedded(name: str) -> str:
    """The embedded dataset a study's smoke test runs on (no real data needed)."""
    return studies.get(name).fallback


@pytest.fixture(scope="session")
def smoke(tmp_path_factory):
    """``smoke(name)`` -> the folder of that study's smoke run (run once per session, on embedded data)."""
    done = {}
    lines = {}

    def run(name: str):
        if name not in done:
            out = tmp_path_factory.mktemp(f"smoke-{name}")
            log = lines.setdefault(name, [])
            done[name] = studies.run_study(name, "smoke", dataset=embedded(name), out=out, progress=False,
                                           log=lambda *a, **k: log.append(" ".join(map(str, a))))
        return done[name], lines[name]

    return run
