"""The app in a real headless Chromium: click through a watch episode and read the rendered chat."""

from __future__ import annotations

import shutil
import socket
import tempfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    from agentsim.ui.app import AppContext, allowed_paths, build_app

    ctx = AppContext(runs_dir=tmp_path_factory.mktemp("runs"))
    demo = build_app(ctx)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                allowed_paths=allowed_paths(ctx))
    yield f"http://127.0.0.1:{port}/"
    demo.close()


def test_watch_episode_in_browser(app_url):
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed here (CI installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        # A fresh, empty profile dir (Playwright's persistent context is how it takes --user-data-dir).
        browser = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, viewport={"width": 1280, "height": 1600},
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync"])
        try:
            page = browser.new_page()
            # Gradio keeps a live connection open, so "networkidle" never comes: wait for the button.
            page.goto(app_url, wait_until="domcontentloaded")
            page.locator("#watch-run").wait_for(timeout=60_000)
            page.get_by_role("tab", name="Watch").click()
            page.locator("#watch-run").click()
            verdict = page.locator(".verdict").first
            verdict.get_by_text("Correct diagnosis").wait_for(timeout=120_000)
            chat = page.locator("#watch-chat").inner_text()
            assert "Doctor:" in chat and "Patient:" in chat
            assert "Diagnosis:" in verdict.inner_text()
            page.screenshot(path=str(ARTIFACTS / "watch-episode.png"), full_page=True)
        finally:
            browser.close()
    assert (ARTIFACTS / "watch-episode.png").stat().st_size > 10_000
