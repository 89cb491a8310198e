"""The comparison app in a real headless Chromium: `streamlit run` on a free port, every page clicked.

Never downloads a browser: it drives the system's /usr/bin/chromium (``make test`` installs it with apt
when it can) and is skipped, with the reason, when that is absent.
"""
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
PAGES = ["Overview", "Curves", "Gradient flow", "Complexity", "Receptive fields", "Similarity", "Inside", "Confusion", "Attributions",
         "Studies"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (make test installs it with apt as root)"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_streamlit(folder: Path, cwd: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """``streamlit run apps/compare.py`` headless on localhost; returns (process, url) once it answers."""
    from xaicnn.demo import app_command

    port = free_port()
    command, env = app_command(folder, port, address="127.0.0.1")  # the command line `make demo` runs
    process = subprocess.Popen(command + ["--server.fileWatcherType", "none"], cwd=cwd, env=env,
                               stdout=log.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as response:
                if response.status == 200:
                    return process, url
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"streamlit did not answer on {url} within 60 s:\n{log.read_text()}")


def wait_idle(page, timeout_ms: int = 90_000) -> None:
    """Wait until the app's script run has finished (the ``stApp`` root's ``data-test-script-state``)."""
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout_ms)


# True once tab `name` is selected, its panel holds elements and the script run is over. Tabs are lazy
# (only the open one runs), so a tab's panel is empty until the rerun its click starts has drawn it:
# this waits for that rerun however fast it is. Stamps the page clock when it first holds.
TAB_READY = """name => {
  const tab = [...document.querySelectorAll("[role='tab']")].find(t => t.innerText.trim() === name);
  if (!tab || tab.getAttribute("aria-selected") !== "true") return false;
  const panel = document.getElementById(tab.getAttribute("aria-controls"));
  const app = document.querySelector("[data-testid='stApp']");
  const ready = app.getAttribute("data-test-script-state") === "notRunning" && panel !== null
    && panel.querySelector("[data-testid='stElementContainer']") !== null;
  if (ready) window.__xaicnnReadyAt = performance.now();
  return ready;
}"""


def open_tab(page, name: str, timeout_ms: int = 90_000) -> float:
    """Click tab ``name`` and wait until its page is drawn and the app idle; returns the seconds from the
    click to then, on the page's own clock (polled every animation frame)."""
    start = page.evaluate("performance.now()")
    page.get_by_role("tab", name=name).click()
    page.wait_for_function(TAB_READY, arg=name, timeout=timeout_ms)
    return (page.evaluate("window.__xaicnnReadyAt") - start) / 1000


@pytest.fixture
def app_url(runs_folder, tmp_path):
    process, url = start_streamlit(runs_folder, tmp_path, tmp_path / "streamlit.log")
    yield url
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


def test_every_page_renders_in_chromium(app_url, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(app_url)
            page.wait_for_selector("[data-testid='stMain'] [data-testid='stDataFrame']", timeout=90_000)
            wait_idle(page)
            body = page.inner_text("body")
            assert "vgg_block" in body and "transformer_block" in body
            for name in PAGES[1:] + PAGES[:1]:  # the Overview is open: start with the next tab, end on it
                open_tab(page, name)
                assert page.get_by_role("tab", name=name).get_attribute("aria-selected") == "true"
                exceptions = page.locator("[data-testid='stException']")
                assert exceptions.count() == 0, (name, exceptions.first.inner_text())
                assert page.locator("[data-testid='stMain'] [data-testid='stAlertContentError']").count() == 0, name
                page.screenshot(path=str(tmp_path / f"{name.replace(' ', '-').lower()}.png"), full_page=True)
            assert page.locator("[data-testid='stImage']").count() == 0  # Studies: none here, and no run figures
            open_tab(page, "Curves")  # one interactive Vega-Lite chart (every panel of every dataset in one spec)
            page.locator("[data-testid='stMain'] [data-testid='stVegaLiteChart']").first.wait_for(timeout=30_000)
            assert page.locator("[data-testid='stMain'] [data-testid='stVegaLiteChart']").count() == 1
            open_tab(page, "Confusion")  # a click on a confusion cell opens the images behind it
            matrix = page.locator("[data-testid='stMain'] [data-testid='stVegaLiteChart']").first
            matrix.locator("g.mark-rect path").first.wait_for(timeout=30_000)
            # a cell that holds images (Vega labels each mark with its tooltip fields); its corner, not the number
            cell = matrix.locator("g.mark-rect path[aria-label*='count: ']:not([aria-label*='count: 0;'])").first
            cell.click(position={"x": 2, "y": 2})
            try:
                page.get_by_role("button", name="Explain these").wait_for(timeout=30_000)
            finally:
                page.screenshot(path=str(tmp_path / "confusion-drilldown.png"), full_page=True)
            assert page.get_by_text("predicted as").count() >= 1
        finally:
            browser.close()
