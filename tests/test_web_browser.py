"""The web panel in a real browser: Debian's chromium, headless, driven by selenium through Debian's
chromedriver (nothing is downloaded), against a real headless show and a real --supervise run.

Screenshots (phone and desktop size) go to $REVERIE_WEB_SCREENSHOTS when set, else the test's tmp dir.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.runner import ROOT, app_env, main_cmd, start_main, stop_main, wait_stats
from tests.system import require_module, require_tools

TOKEN = "T"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
COMMON = (
    "--headless",
    "--camera",
    "none",
    "--mic",
    "none",
    "--set",
    "display.size=[320, 180]",
    "--set",
    "display.fps=30",
    "--set",
    "midi.enabled=false",
    "--set",
    "osc.enabled=false",
    "--set",
    "web.enabled=true",
    "--set",
    f"web.token={TOKEN}",
)
PHONE = (390, 844)
DESKTOP = (1280, 900)


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def shots_dir(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("REVERIE_WEB_SCREENSHOTS", "") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextmanager
def chromium(size: tuple[int, int] = DESKTOP) -> Iterator[Any]:
    require_tools("chromium", "chromedriver")
    webdriver = require_module("selenium.webdriver", "the web panel's browser tests drive chromium with it")
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"  # selenium-manager must never download a browser or driver
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size={size[0]},{size[1]}",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        set_viewport(driver, size)  # exact CSS px, as a phone has (a window cannot be narrower than ~500 px)
        yield driver
    finally:
        driver.quit()


def set_viewport(driver: Any, size: tuple[int, int], mobile: bool | None = None) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {
            "width": size[0],
            "height": size[1],
            "deviceScaleFactor": 1,
            "mobile": size[0] < 600 if mobile is None else mobile,
        },
    )


def screenshot(driver: Any, path: Path, width: int) -> None:
    """The whole page at this width, not only what fits on the screen."""
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    set_viewport(driver, (width, height))
    time.sleep(0.3)
    driver.save_screenshot(str(path))
    set_viewport(driver, (width, min(height, 900)))


def wait_page(driver: Any, predicate_js: str, timeout_s: float, what: str) -> Any:
    """Poll a JavaScript expression in the page until it is truthy; its value."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = driver.execute_script(f"return ({predicate_js});")
        if value:
            return value
        time.sleep(0.2)
    state = driver.execute_script("return document.getElementById('state').textContent")
    raise AssertionError(f"{what}: not within {timeout_s:g} s; the page says {state!r}")


THUMB_SAMPLE_JS = """(() => {
  const img = document.getElementById('thumb');
  if (!img.complete || !img.naturalWidth) return null;
  const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;
  const g = c.getContext('2d'); g.drawImage(img, 0, 0);
  const d = g.getImageData(0, 0, c.width, c.height).data; const out = [];
  for (let i = 0; i < d.length; i += 4 * 97) out.push(d[i], d[i + 1], d[i + 2]);
  return out;
})()"""


def test_panel_in_chromium_against_a_running_show(tmp_path: Path) -> None:
    port = free_tcp_port()
    stats = tmp_path / "stats.jsonl"
    snaps = tmp_path / "snaps"
    proc = start_main(
        *COMMON,
        "--stats",
        str(stats),
        "--set",
        f"web.port={port}",
        "--set",
        "stats.interval_s=0.25",
        "--set",
        f'run.snapshot_dir="{snaps}"',
        log_path=tmp_path / "show.log",
    )
    try:
        wait_stats(stats, lambda s: s["frames"] > 5, 90, proc)
        with chromium(DESKTOP) as driver:
            driver.get(f"http://127.0.0.1:{port}/#token={TOKEN}")  # the fragment stores the token, never sent
            wait_page(driver, "document.getElementById('state').textContent === 'running'", 20, "page running")
            assert "#token" not in driver.current_url  # taken out of the address bar once stored
            first = wait_page(driver, THUMB_SAMPLE_JS, 20, "first thumbnail")
            assert max(first) - min(first) > 10, "the thumbnail is flat"
            wait_page(driver, f"JSON.stringify({THUMB_SAMPLE_JS}) !== JSON.stringify({first})", 20, "thumbnail changes")
            wait_page(driver, "document.querySelector('#presets button[data-name=\"4-club\"]')", 10, "preset buttons")
            wait_page(driver, "document.getElementById('engagement').naturalWidth === 480", 15, "engagement plot")
            assert driver.execute_script("return document.getElementById('fps').textContent") != "–"
            screenshot(driver, shots_dir(tmp_path) / "panel-desktop.png", DESKTOP[0])

            driver.find_element("css selector", '#presets button[data-name="4-club"]').click()
            wait_stats(stats, lambda s: s["preset"] == "Club", 15, proc)
            wait_page(
                driver,
                "document.querySelector('#presets button.current')?.dataset.name === '4-club'",
                10,
                "the page shows the new preset",
            )
            driver.find_element("css selector", "#snapshot").click()
            wait_page(driver, "document.getElementById('toast').textContent.includes('snapshot')", 10, "snapshot sent")
            deadline = time.monotonic() + 15
            while not list(snaps.glob("snapshot-*.png")) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert list(snaps.glob("snapshot-*.png")), "no snapshot from the panel's button"
            set_viewport(driver, PHONE)
            time.sleep(1.5)  # one refresh at the new size before the picture
            screenshot(driver, shots_dir(tmp_path) / "panel-phone.png", PHONE[0])
            width = driver.execute_script("return document.documentElement.scrollWidth")
            assert width <= PHONE[0], f"the page is {width} px wide on a {PHONE[0]} px phone"
    finally:
        code = stop_main(proc)
    assert code == 0, (tmp_path / "show.log").read_text()[-3000:]


def child_pid(log_dir: Path) -> int:
    import json

    try:
        return int(json.loads((log_dir / "health.json").read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return 0


def test_panel_says_restarting_during_a_supervised_restart_and_recovers(tmp_path: Path) -> None:
    port = free_tcp_port()
    log_dir = tmp_path / "state"
    # No warm standby: the restart takes seconds (importing torch), long enough to watch it.
    proc = subprocess.Popen(
        main_cmd(
            "--supervise",
            *COMMON,
            "--set",
            f"web.port={port}",
            "--set",
            f'supervisor.log_dir="{log_dir}"',
            "--set",
            "supervisor.standby=false",
            "--set",
            "supervisor.stable_s=2",
            "--set",
            "health.interval_s=0.3",
        ),
        cwd=ROOT,
        env=app_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        with chromium(PHONE) as driver:
            deadline = time.monotonic() + 30
            while True:  # the supervisor's panel is up before the show is
                try:
                    driver.get(f"http://127.0.0.1:{port}/")
                    break
                except Exception:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise
                    time.sleep(0.5)
            wait_page(driver, "document.getElementById('state').textContent === 'running'", 120, "show running")
            wait_page(driver, "document.getElementById('meta').textContent.includes('supervised')", 10, "supervised")
            first = child_pid(log_dir)
            assert first > 0
            time.sleep(2.5)  # a stable run: restarted at once
            os.kill(first, signal.SIGKILL)
            wait_page(
                driver,
                "document.getElementById('state').textContent === 'restarting' && "
                "document.getElementById('banner').classList.contains('show')",
                15,
                "page says restarting",
            )
            screenshot(driver, shots_dir(tmp_path) / "panel-restarting-phone.png", PHONE[0])
            wait_page(
                driver,
                "document.getElementById('state').textContent === 'running' && "
                "document.getElementById('restarts').textContent === '1'",
                120,
                "page recovers by itself",
            )
            assert not driver.execute_script("return document.getElementById('banner').classList.contains('show')")
            assert child_pid(log_dir) not in (0, first)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
    assert proc.returncode == 0
    log = (log_dir / "reverie.log").read_text()
    assert "web panel: http://127.0.0.1" in log and "was killed by signal 9" in log


def test_panel_shows_a_closed_show_without_a_picture(tmp_path: Path) -> None:
    """Outside opening hours (closed_mode black) the page says closed, with the hours, and shows no picture."""
    import datetime

    day = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[(datetime.date.today().weekday() + 2) % 7]
    port = free_tcp_port()
    stats = tmp_path / "stats.jsonl"
    proc = start_main(
        *COMMON,
        "--stats",
        str(stats),
        "--set",
        f"web.port={port}",
        "--set",
        f'schedule.open="{day} 10:00-18:00"',
        log_path=tmp_path / "show.log",
    )
    try:
        wait_stats(stats, lambda s: s["frames"] > 2, 90, proc)
        with chromium(PHONE) as driver:
            driver.get(f"http://127.0.0.1:{port}/")
            wait_page(driver, "document.getElementById('openstate').textContent === 'closed'", 20, "closed pill")
            wait_page(
                driver,
                "document.getElementById('thumbnote').textContent === 'closed: no picture'",
                10,
                "no picture while closed",
            )
            hours = driver.execute_script("return document.getElementById('hours').textContent")
            assert hours.startswith(f"{day} 10:00-18:00") and "closed now (black)" in hours
            screenshot(driver, shots_dir(tmp_path) / "panel-closed-phone.png", PHONE[0])
    finally:
        assert stop_main(proc) == 0
