"""A real browser: JupyterLab on 127.0.0.1, Debian's chromium driven by Playwright, notebook 00 run top to bottom.

Checks that every cell runs without an error output, that the ipywidgets slider renders, and that
moving it fires its Python callback in the kernel (the label below it changes). A screenshot is
kept in ``_build/screenshots/``. Outside CI, without chromium or Playwright, the test is skipped
with the reason; in CI (``CI=true``, where ``.ci/run`` installs both) a missing browser fails.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NOTEBOOK = "00_start_here.ipynb"


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install playwright)"
    if CHROMIUM is None:
        return "Debian's chromium is not installed (apt-get install chromium)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    reason = _missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"browser test cannot run in CI: {reason}")
        pytest.skip(reason)
    shutil.copy(ROOT / "notebooks" / NOTEBOOK, tmp_path / NOTEBOOK)  # JupyterLab autosaves: never touch the repo copy
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}", "--ServerApp.open_browser=False",
         "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        + (["--allow-root"] if os.geteuid() == 0 else []),
        env=env, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "lab.log", "w"))
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited: {(tmp_path / 'lab.log').read_text()[-2000:]}")
            time.sleep(0.5)
    else:
        proc.terminate()
        pytest.fail("JupyterLab did not start within 120 s")
    yield base, token
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_notebook_runs_and_widget_calls_back_in_real_browser(lab):
    from playwright.sync_api import sync_playwright

    base, token = lab
    shots = ROOT / "_build" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(f"{base}/lab/tree/{NOTEBOOK}?token={token}", timeout=120_000)
            page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=120_000)
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
            page.click(".jp-NotebookPanel .jp-Notebook")
            page.click("text=Run >> nth=0")
            page.click("text=Run All Cells")
            # Done when no cell waits or runs ([*]) and the last code cell has an execution count.
            page.wait_for_function(
                """() => {
                    const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(p => p.textContent);
                    return prompts.length > 0 && prompts.every(t => /\\[\\d+\\]/.test(t));
                }""", timeout=240_000)
            errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
            texts = [errors.nth(i).inner_text() for i in range(errors.count())]
            assert not [t for t in texts if "Error" in t or "Traceback" in t], texts
            assert page.locator("text=PASS").count() + page.locator("text=WRONG").count() >= 1

            slider = page.locator(".widget-slider").first
            slider.wait_for(timeout=60_000)
            label = page.locator(".widget-label", has_text="pixels").first
            assert "256² = 65,536 pixels" in label.inner_text()
            handle = page.locator(".widget-slider .noUi-handle").first
            handle.focus()
            page.keyboard.press("ArrowRight")  # one step: 256 → 288, sent to the kernel, callback updates the label
            page.wait_for_function(
                """() => [...document.querySelectorAll('.widget-label')].some(e => e.textContent.includes('288²'))""",
                timeout=60_000)
            assert "288² = 82,944 pixels" in page.locator(".widget-label", has_text="288").first.inner_text()
            label.scroll_into_view_if_needed()
        finally:
            page.screenshot(path=str(shots / "00_start_here.png"))
            browser.close()
    assert (shots / "00_start_here.png").stat().st_size > 10_000
