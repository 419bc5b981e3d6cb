"""A training day in a real browser: `replaybook serve` as installed, Debian's chromium through
chromium-driver. The facilitator creates a training on the board; the trainee opens the invite,
starts, types the fix of 001-nginx-502 into the browser terminal and sees RESOLVED; the board
shows the session resolved; the ledger has the line with the trainee's name; Ctrl-C (SIGTERM)
stops the server, which tears the session down: nothing is left in the engine."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browserkit import headless_chromium
from servekit import helper_processes
from trainee import BIN

from libreplay.core import paths

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.docker, pytest.mark.timeout(900)]

FIX = 'sed -i "s/server app:3001 /server app:3000 /" /etc/nginx/conf.d/checkout.conf && nginx -s reload\n'


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def server(replaybook_home: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`replaybook serve` on a free loopback port; its facilitator URL. Stopped with SIGTERM."""
    process = subprocess.Popen([str(BIN / "replaybook"), "serve", "--bind", f"127.0.0.1:{free_port()}"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert "/facilitator?token=" in url, process.stderr.read() if process.poll() is not None else url
        yield url, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=300)


@pytest.fixture
def driver() -> Iterator[Any]:
    with headless_chromium("browser") as browser:
        yield browser


def test_a_training_day_in_the_browser(server: tuple[str, subprocess.Popen[str]], driver: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as until
    from selenium.webdriver.support.ui import WebDriverWait

    facilitator_url, process = server
    wait = WebDriverWait(driver, 30)
    driver.get(facilitator_url)
    driver.find_element(By.ID, "names").send_keys("erin")
    driver.find_element(By.ID, "create-training").click()
    link = wait.until(until.presence_of_element_located((By.CSS_SELECTOR, "a.invite")))
    invite = link.get_attribute("href")

    driver.get(invite)
    wait.until(until.element_to_be_clickable((By.ID, "start"))).click()
    # The shell has printed its prompt (what a trainee waits for before typing).
    WebDriverWait(driver, 400).until(
        until.presence_of_element_located((By.CSS_SELECTOR, "#terminals .terminal[data-received]")))
    keys = driver.find_element(By.CSS_SELECTOR, "#terminals .xterm-helper-textarea")
    assert helper_processes(process.pid) == []  # the terminal is an exec of the engine's API, in the server
    WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "status").text == "ACTIVE")
    assert driver.find_element(By.ID, "page").text.strip()  # the incident's page, in the HUD
    driver.find_element(By.ID, "hint").click()  # the button's hint is the session's hint
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#hints li")) == 1)
    keys.send_keys(FIX)
    WebDriverWait(driver, 180).until(lambda d: d.find_element(By.ID, "status").text == "RESOLVED")
    assert "debrief" in driver.find_element(By.ID, "debrief-text").text
    errors = [entry for entry in driver.get_log("browser")
              if entry["level"] == "SEVERE" and "favicon" not in entry["message"]]
    assert errors == []

    driver.get(facilitator_url)
    row = wait.until(until.presence_of_element_located((By.CSS_SELECTOR, "#board tr.resolved")))
    assert row.text.startswith("erin") and "RESOLVED" in row.text
    assert "erin" in driver.find_element(By.ID, "leaderboard").text

    lines = [json.loads(line) for line in paths.ledger_path().read_text().splitlines()]
    recorded = [(line["player"], line["outcome"], line["hints_used"]) for line in lines]
    assert recorded == [("erin", "success", 1)]
    session = lines[0]["session"]

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=300) == 128 + signal.SIGTERM  # stopped by the signal, after the clean-up
    from dockerkit import leftovers

    assert leftovers(f"replaybook-{session}") == {}
    assert not paths.session_dir(session).exists()
