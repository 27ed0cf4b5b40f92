"""The console page (CONTRACT §22.7) in a real browser: headless Chromium driven through Selenium
against a real master running the test runtime. Every wait is an explicit WebDriverWait.

Where Chromium, its driver or Selenium is missing (scripts/test installs them best effort) these
tests skip and say why. With OPENCTRL_SCREENSHOTS=<dir> the run saves the README's pictures there
(console.png, console-detail.png); otherwise into the test's temporary directory.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from instances_helpers import FIXTURE, kit  # noqa: F401

WAIT = 15.0
# Chromium logs a failed fetch (the 401 of a wrong key, a refused connection while the master
# restarts) as an error; those are the page working. Anything else is a broken page.
EXPECTED_BROWSER_ERRORS = ("Failed to load resource", "net::ERR_CONNECTION_REFUSED", "/events")


def _chrome():
    try:
        from selenium import webdriver
    except ImportError as e:
        pytest.skip(f"browser tests need Python selenium ({e}); scripts/test installs it")
    chromium = shutil.which("chromium")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("browser tests need Debian's chromium and chromium-driver; scripts/test installs them")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1600,1100", "--force-device-scale-factor=1"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver))


@pytest.fixture(scope="module")
def browser():
    driver = _chrome()
    yield driver
    driver.quit()


@pytest.fixture
def page(browser):
    yield Page(browser)
    errors = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    unexpected = [m for m in errors if not any(x in m for x in EXPECTED_BROWSER_ERRORS)]
    assert not unexpected, unexpected


def screenshot_dir(tmp_path: Path) -> Path:
    wanted = os.environ.get("OPENCTRL_SCREENSHOTS")
    return Path(wanted) if wanted else tmp_path


class Page:
    """The console in one tab, found by the ids and data attributes the page gives its parts."""

    def __init__(self, driver):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys
        from selenium.webdriver.support.ui import WebDriverWait

        self.d = driver
        self.By = By
        self.Keys = Keys
        self.wait = WebDriverWait(driver, WAIT, poll_frequency=0.05)

    def open(self, m) -> None:
        self.d.get(f"http://127.0.0.1:{m.port}{m.base}/console")
        self.d.execute_script("sessionStorage.clear()")
        self.d.refresh()
        self.until(lambda: self.text("conn") == "not connected", "the page to load")

    def el(self, css: str):
        return self.d.find_element(self.By.CSS_SELECTOR, css)

    def els(self, css: str):
        return self.d.find_elements(self.By.CSS_SELECTOR, css)

    def text(self, element_id: str) -> str:
        return self.el("#" + element_id).text

    def until(self, condition, what: str):
        def check(_):
            try:
                return condition()
            except Exception:  # an element replaced under us: look again on the next poll
                return False

        try:
            return self.wait.until(check)
        except Exception:
            raise AssertionError(
                f"{what}: not within {WAIT}s; message {self.text('msg')!r}, connection {self.text('conn')!r}"
            ) from None

    def type_into(self, element_id: str, text: str, submit: bool = False) -> None:
        field = self.el("#" + element_id)
        field.clear()
        field.send_keys(text + (self.Keys.ENTER if submit else ""))

    def use_key(self, key: str) -> None:
        self.type_into("key", key, submit=True)

    def row_ids(self) -> list[str]:
        return [tr.get_attribute("data-id") for tr in self.els("#rows tr")]

    def cell(self, iid: str, field: str) -> str:
        # textContent: with the detail pane open some columns are hidden, and Selenium's `text`
        # is only what is rendered.
        return self.el(f'#rows tr[data-id="{iid}"] [data-f="{field}"]').get_attribute("textContent")

    def press(self, iid: str, action: str) -> None:
        self.el(f'#rows tr[data-id="{iid}"] button[data-a="{action}"]').click()

    def wait_status(self, iid: str, status: str) -> None:
        self.until(lambda: self.cell(iid, "status") == status, f"{iid} shown as {status}")

    def history(self) -> list[str]:
        return [line.text for line in self.els("#hist li span")]


def test_wrong_key_right_key_and_forget(page, kit):
    m = kit.start()
    existing = kit.create(kit.url(), alias="existing")["id"]
    page.open(m)
    page.use_key("0" * 32)
    page.until(lambda: page.text("msg") == "Unauthorized: Invalid API key", "the 401 text")
    assert page.text("conn") == "key refused" and page.row_ids() == []

    page.use_key(m.key)
    page.until(lambda: page.row_ids() == [existing], "the instance listed")
    page.until(lambda: page.text("conn") == "live", "the stream live")
    assert page.cell(existing, "alias") == "existing"
    assert page.d.execute_script("return sessionStorage.getItem('openctrl-key')") == m.key
    page.until(lambda: page.el('#info [data-i="uptime"]').text.endswith("s"), "master info")

    page.type_into("t-target", f"127.0.0.1:{m.port}", submit=True)
    page.until(lambda: page.text("tcping-out").startswith(f"127.0.0.1:{m.port}: connected in "), "a probe")
    page.type_into("t-target", "", submit=False)
    page.el("#tcpingform button").click()
    page.until(lambda: page.text("msg") == "Target address required", "the API's 400 text")

    page.el("#forget").click()
    page.until(lambda: page.row_ids() == [] and page.text("conn") == "not connected", "the key forgotten")
    assert page.d.execute_script("return sessionStorage.getItem('openctrl-key')") is None
    assert page.d.switch_to.active_element.get_attribute("id") == "key"


def test_the_console_follows_and_drives_a_master(page, kit, tmp_path):
    """Under a custom API prefix: the page finds its API beside itself."""
    m = kit.m.start(url_suffix=f"/ops?bin={FIXTURE}")
    assert m.base == "/ops/v2"
    assert m.json("POST", "/info", {"alias": "demo-master"})[0] == 200
    for alias, query in (("edge-a", {"checkpoints": 3, "step": 700000}), ("edge-b", {"checkpoints": 2, "step": 90000})):
        iid = kit.create(kit.url(alias, **query), alias=alias)["id"]
        kit.patch(iid, {"meta": {"tags": {"region": "eu-west", "tier": alias[-1]}}})
    kit.patch(kit.create(kit.url("idle"), alias="idle")["id"], {"action": "stop"})
    page.open(m)
    page.use_key(m.key)
    page.until(lambda: len(page.row_ids()) == 3, "three rows")

    # Created through the form: the row comes from the event stream's `create`.
    page.type_into("c-alias", "web")
    page.type_into("c-url", kit.url("web", lines=2), submit=True)
    page.until(lambda: page.text("msg").startswith("Created "), "the create answer")
    web = page.text("msg").split()[1].rstrip(".")
    page.until(lambda: web in page.row_ids(), "the created row")
    page.wait_status(web, "running")
    assert page.cell(web, "alias") == "web"
    assert page.row_ids() == sorted(page.row_ids())
    shots = screenshot_dir(tmp_path)
    page.until(lambda: all(page.cell(i, "status") in ("running", "stopped") for i in page.row_ids()), "settled rows")
    page.until(lambda: page.el('#info [data-i="alias"]').text == "demo-master", "the master's alias")
    page.d.execute_script("document.activeElement.blur()")
    page.d.save_screenshot(str(shots / "console.png"))

    page.press(web, "stop")
    page.wait_status(web, "stopped")

    # The history holds the lines of the first run; starting again appends the new run's lines live.
    page.press(web, "details")
    page.until(lambda: page.text("d-title") == f"Instance {web} · web", "the detail pane")
    page.until(lambda: page.history().count("line 2") == 1, "the history's output lines")
    page.until(lambda: page.el('#d-proc [data-p="pid"]').text == "(no child)", "the process facts")
    page.press(web, "start")
    page.wait_status(web, "running")
    page.until(lambda: page.history().count("line 2") == 2, "a live output line in the detail pane")
    page.until(lambda: page.el('#d-proc [data-p="pid"]').text.isdigit(), "the new child's pid")
    page.d.execute_script("document.activeElement.blur()")
    page.d.save_screenshot(str(shots / "console-detail.png"))

    # Edits go through the API; the row changes when the stream's `update` arrives.
    page.type_into("d-alias", "web-1", submit=True)
    page.until(lambda: page.cell(web, "alias") == "web-1", "the new alias")
    page.type_into("d-tags", "tier=front\nzone=b")
    page.el("#tagsform button").click()
    page.until(lambda: page.cell(web, "tags") == "tier=front, zone=b", "the new tags")
    # A URL that equals the current one is the API's 409, said as the API says it.
    page.el("#urlform button").click()
    page.until(lambda: page.text("msg") == "instance URL conflict", "the 409 text")

    # The master goes away and comes back on the same port with the same state and key.
    before = page.row_ids()
    port, key = m.port, m.key
    assert m.stop() == 0
    page.until(lambda: page.text("conn").startswith("reconnecting"), "the page noticing")
    m.start(url=f"master://127.0.0.1:{port}/ops?bin={FIXTURE}")
    assert m.key == key
    page.until(lambda: page.text("conn") == "live", "the page reconnecting on its own")
    late = kit.create(kit.url("late"), alias="late")["id"]
    page.until(lambda: late in page.row_ids(), "a row created after the reconnect")
    # That `create` closed the new connection's snapshot: every row it did not name is gone.
    assert page.row_ids() == sorted(before + [late])

    # Delete asks first; cancelling keeps the row, confirming removes it.
    page.press(web, "delete")
    page.until(lambda: page.el("#confirm").is_displayed(), "the confirmation")
    page.el("#confirm-no").click()
    page.until(lambda: not page.el("#confirm").is_displayed(), "the confirmation closed")
    assert web in page.row_ids()
    page.press(web, "delete")
    page.until(lambda: page.el("#confirm").is_displayed(), "the confirmation")
    page.el("#confirm-yes").click()
    page.until(lambda: web not in page.row_ids(), "the deleted row gone")
    assert page.el("#detail").get_attribute("hidden") is not None
