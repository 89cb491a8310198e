"""How fast the comparison app answers: cold and warm page switches, and a warm run-selection change.

Opens ``apps/compare.py`` on a folder of runs (default: the demo set in checkpoints/demo, from ``make
demo``) with every run selected (six for the demo set), visits each page twice and times each script
run, then toggles one run out of and back into the selection. Two clocks:

- AppTest (default): the script run on the server alone (what the caches save).
- ``--browser``: headless Chromium (/usr/bin/chromium) against ``streamlit run``, from the click on a
  tab until that page is drawn and the app's script state is 'notRunning' again, on the page's clock
  (server run + websocket round trips + page update; images may still be decoding).

"Warm" = the page was shown before with the same runs and settings. Prints a table; asserts nothing.

    .venv/bin/python bench/app_interaction.py [--folder checkpoints/demo] [--browser]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "apps" / "compare.py"
PAGES = ["Overview", "Curves", "Gradient flow", "Complexity", "Confusion", "Attributions", "Studies"]


def apptest_timings(folder: Path) -> dict:
    from streamlit.testing.v1 import AppTest

    os.environ["XAICNN_CHECKPOINT_DIR"] = str(folder)
    at = AppTest.from_file(str(APP), default_timeout=600)
    t = time.perf_counter()
    at.run()
    out = {"first load": time.perf_counter() - t, "runs selected": len(at.multiselect[0].value)}
    for rnd in ("cold", "warm"):
        for page in PAGES:
            at.session_state["page"] = page
            t = time.perf_counter()
            at.run()
            out[f"{page} ({rnd})"] = time.perf_counter() - t
            if at.exception:
                sys.exit(f"{page}: {at.exception[0].value}")
    at.session_state["page"] = "Gradient flow"
    at.run()
    selection = list(at.multiselect[0].value)
    switches = []
    for _ in range(2):
        for chosen in (selection[1:], selection):
            t = time.perf_counter()
            at.multiselect[0].set_value(chosen).run()
            switches.append(time.perf_counter() - t)
    out["run toggled (warm, Gradient flow)"] = statistics.median(switches[2:])
    return out


def browser_timings(folder: Path) -> dict:
    sys.path.insert(0, str(ROOT / "tests" / "app"))
    from playwright.sync_api import sync_playwright
    from test_browser import CHROMIUM, CHROMIUM_ARGS, open_tab, start_streamlit, wait_idle

    log = Path("/tmp/xaicnn-bench-streamlit.log")
    process, url = start_streamlit(folder, ROOT, log)
    out = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            t = time.perf_counter()
            page.goto(url)
            page.wait_for_selector("[data-testid='stMain'] [data-testid='stDataFrame']", timeout=600_000)
            wait_idle(page, 600_000)
            out["first load"] = time.perf_counter() - t
            for rnd in ("cold", "warm", "warm again"):
                for name in PAGES[1:] + PAGES[:1]:  # the Overview is open at first
                    out[f"{name} ({rnd})"] = open_tab(page, name, 600_000)
            browser.close()
    finally:
        process.terminate()
        process.wait(10)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", default=str(ROOT / "checkpoints" / "demo"))
    parser.add_argument("--browser", action="store_true", help="time clicks in headless Chromium instead of AppTest")
    args = parser.parse_args()
    folder = Path(args.folder).resolve()
    if not any(folder.glob("*.pt")):
        sys.exit(f"No runs in {folder}; run 'make demo' (or 'python -m xaicnn.demo --no-app') first, or pass --folder.")
    os.environ.setdefault("MPLBACKEND", "Agg")
    timings = browser_timings(folder) if args.browser else apptest_timings(folder)
    clock = "browser click -> idle" if args.browser else "AppTest script run"
    print(f"{'interaction':<40} {'seconds':>8}   ({clock}, {folder})")
    for key, value in timings.items():
        print(f"{key:<40} {value:>8.3f}" if isinstance(value, float) else f"{key:<40} {value:>8}")
    warm = [v for k, v in timings.items() if "warm" in k and isinstance(v, float)]
    print(f"{'warm interactions: median / max':<40} {statistics.median(warm):>8.3f} / {max(warm):.3f}")


if __name__ == "__main__":
    main()
