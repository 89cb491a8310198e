"""Screenshots of every page of the comparison app for docs/app.md (docs/img/app-<page>.png).

Serves ``apps/compare.py`` on a folder of runs (default: the demo set, checkpoints/demo) from a working
folder whose ``studies/`` holds the study to show, opens it in headless Chromium (/usr/bin/chromium,
never a downloaded browser), clicks each tab, waits for the page to finish and saves the viewport.

    .venv/bin/python scripts/app_screenshots.py [--folder checkpoints/demo] [--cwd .] [--out docs/img]
                                                [--pages Overview,Confusion,Studies]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "app"))

from test_browser import CHROMIUM, CHROMIUM_ARGS, PAGES, open_tab, start_streamlit, wait_idle  # noqa: E402


def sanity_check(page) -> None:
    """Attributions: click 'Run the sanity check', wait for every run's result, scroll to it."""
    page.get_by_role("button", name="Run the sanity check").click()
    page.wait_for_selector("[data-testid='stSpinner']", timeout=30_000)
    page.wait_for_selector("[data-testid='stSpinner']", state="detached", timeout=600_000)
    wait_idle(page, 600_000)
    page.get_by_role("heading", name="Sanity check").evaluate("e => e.scrollIntoView({block: 'start'})")


def shoot(page, path: Path) -> None:
    """Save the viewport as a 256-colour PNG (a third of the size). Fast-octree keeps the charts' colours;
    median-cut turned yellow legends orange and tinted colour bars."""
    from PIL import Image

    page.wait_for_timeout(800)  # images fade in
    page.screenshot(path=str(path))
    image = Image.open(path).convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(path, optimize=True)
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", default=str(ROOT / "checkpoints" / "demo"))
    parser.add_argument("--cwd", default=str(ROOT), help="working folder of the app (its studies/ is listed)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "img"))
    parser.add_argument("--height", type=int, default=1100, help="viewport height in pixels")
    parser.add_argument("--pages", default=",".join(PAGES), help="comma-separated pages to shoot (default: all)")
    args = parser.parse_args()
    wanted = [p.strip() for p in args.pages.split(",") if p.strip()]
    from playwright.sync_api import sync_playwright

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    process, url = start_streamlit(Path(args.folder).resolve(), Path(args.cwd), Path("/tmp/xaicnn-screenshots.log"))
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1500, "height": args.height})
            page.goto(url)
            page.wait_for_selector("[data-testid='stMain'] [data-testid='stDataFrame']", timeout=600_000)
            wait_idle(page, 600_000)
            for name in [p for p in PAGES if p in wanted]:
                if name != "Overview":
                    open_tab(page, name, 600_000)
                shoot(page, out / f"app-{name.lower().replace(' ', '-')}.png")
            if "Attributions" in wanted:
                open_tab(page, "Attributions", 600_000)  # back from Studies (served from the caches)
                sanity_check(page)
                shoot(page, out / "app-attributions-sanity.png")
            browser.close()
    finally:
        process.terminate()
        process.wait(10)


if __name__ == "__main__":
    main()
