"""The dashboard in a real headless Chromium (Debian's `chromium` and `chromium-driver`,
through Selenium) against two real `coledger run` processes: log in with the token, make a
process and record a produce event through the forms, see it in the inventory, a refusal
that writes nothing, the trace graph; propose a transfer from one node's page and accept it
on the other's; the Sankey. Each test saves a screenshot under its tmp_path. Where the
browser or its driver is missing the tests are skipped and say why."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.processes import NodeProcess, cli, wait_until

pytestmark = pytest.mark.slow
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
WAIT = 60  # seconds any one thing may take on a busy machine


def browser_missing() -> str | None:
    """Why the browser tests cannot run here (None: they can)."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not Path(path).exists() and shutil.which(Path(path).name) is None:
            return f"no {path}: install Debian's {package} (.ci/run does) to run browser tests"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (make install installs the dev dependencies)"
    return None


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, NodeProcess]]:
    """Two members of one network (farm invites mill), each node serving HTTP."""
    missing = browser_missing()
    if missing:
        pytest.skip(missing)
    root = tmp_path_factory.mktemp("dash")
    homes = {name: root / name for name in ("farm", "mill")}
    ids = {n: cli(h, "init", "--name", n)["agent_id"] for n, h in homes.items()}
    cli(homes["farm"], "network", "create", "valley", "--out", str(root / "valley.json"))
    token = cli(homes["farm"], "invite", ids["mill"])["token"]
    cli(homes["mill"], "join", str(root / "valley.json"), "--invite", token)
    nodes: dict[str, NodeProcess] = {}
    try:
        nodes["farm"] = NodeProcess(homes["farm"], http="127.0.0.1:0")
        nodes["mill"] = NodeProcess(homes["mill"], bootstrap=[nodes["farm"].address],
                                    http="127.0.0.1:0")
        wait_until(lambda: all(n.status()["peers"] == 1 for n in nodes.values()),
                   timeout=WAIT, what="the two nodes to connect")
        yield nodes
    finally:
        for node in nodes.values():
            node.stop()


@pytest.fixture
def browser(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A headless Chromium; a screenshot of its last page saved under tmp_path at the end."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                 "--window-size=1200,1000", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    service = Service(executable_path=shutil.which("chromedriver") or CHROMEDRIVER)
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.save_screenshot(str(tmp_path / f"{request.node.name}.png"))
        driver.quit()


def until(driver: Any, condition: Callable[[Any], Any], what: str) -> Any:
    """Wait (explicitly, up to WAIT seconds) for `condition(driver)` to be truthy."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT, poll_frequency=0.25).until(condition, message=what)


def text_of(driver: Any) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.TAG_NAME, "main").text)


def log_in(driver: Any, node: NodeProcess) -> None:
    """Open the node's address, be sent to /login, paste the token once."""
    from selenium.webdriver.common.by import By

    token = cli(node.home, "http-token")["token"]
    driver.get(f"{node.http}/")
    until(driver, lambda d: d.find_elements(By.ID, "token"), "the login form")
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "form[action='/login'] button").click()
    until(driver, lambda d: d.find_elements(By.ID, "agent-id"), "the overview")
    assert driver.find_element(By.ID, "agent-id").text == node.agent_id
    assert token not in driver.page_source


def fill(driver: Any, values: dict[str, str]) -> None:
    """Type into the fields (by id) and choose in the selects (by visible text)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    for field, value in values.items():
        element = driver.find_element(By.ID, field)
        if element.tag_name == "select":
            Select(element).select_by_visible_text(value)
        else:
            element.clear()
            element.send_keys(value)


def open_page(driver: Any, node: NodeProcess, path: str, marker: str) -> None:
    """Go to `path` and wait for the element with id `marker`."""
    from selenium.webdriver.common.by import By

    driver.get(f"{node.http}{path}")
    until(driver, lambda d: d.find_elements(By.ID, marker), f"{path}'s #{marker}")


def produce_bread(driver: Any, farm: NodeProcess) -> None:
    """A process and a produce event of 10 kg of a new resource, through the forms."""
    from selenium.webdriver.common.by import By

    open_page(driver, farm, "/processes/new", "process-form")
    fill(driver, {"f-name": "baking"})
    driver.find_element(By.CSS_SELECTOR, "#process-form button").click()
    until(driver, lambda d: d.find_elements(By.ID, "choose-action"), "the record page")
    fill(driver, {"choose-action": "produce"})
    driver.find_element(By.ID, "choose").click()
    until(driver, lambda d: d.find_elements(By.ID, "f-new_resource"), "produce's fields")
    fill(driver, {"f-new_resource": "bread", "f-quantity": "10 kg", "f-output_of": "baking"})
    driver.find_element(By.ID, "record").click()
    until(driver, lambda d: d.find_elements(By.ID, "trace"), "the new resource's page")


def test_record_through_the_form_see_it_and_its_trace(two: dict[str, NodeProcess],
                                                      browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    farm = two["farm"]
    log_in(browser, farm)
    produce_bread(browser, farm)
    assert browser.find_element(By.ID, "accounting").text == "10 kilogram"
    trace = browser.find_element(By.CSS_SELECTOR, "#trace svg")  # the graph, drawn
    assert {"produce 10 kilogram", "baking"} <= {
        t.text for t in trace.find_elements(By.CSS_SELECTOR, "text")}
    assert trace.size["width"] > 300 and trace.size["height"] > 30
    browser.save_screenshot(str(tmp_path / "trace.png"))
    open_page(browser, farm, "/inventory", "inventory")
    row = browser.find_element(By.XPATH, "//table[@id='inventory']//tr[td/a[text()='bread']]")
    assert row.text.count("10 kilogram") == 2  # accounting and onhand, with the unit
    # a refusal: the rule's message on the form, and nothing written
    length = len(cli(farm.home, "chain", "show"))
    open_page(browser, farm, "/record?action=consume", "record-form")
    fill(browser, {"f-resource": "bread (10 kilogram)", "f-quantity": "3 kg"})
    browser.find_element(By.ID, "record").click()
    refusal = until(browser, lambda d: d.find_elements(By.ID, "refusal"), "the refusal")[0]
    assert "needs inputOf" in refusal.text and "Nothing was written" in refusal.text
    assert len(cli(farm.home, "chain", "show")) == length
    assert [r["accountingQuantity"]["hasNumericalValue"] for r in cli(farm.home, "inventory")
            if r["name"] == "bread"] == ["10"]
    # on a phone: the inventory fits the screen's width (no sideways scrolling)
    browser.set_window_size(390, 844)
    open_page(browser, farm, "/inventory", "inventory")
    assert browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth")


def test_transfer_proposed_on_one_page_accepted_on_the_other(
        two: dict[str, NodeProcess], browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    farm, mill = two["farm"], two["mill"]
    if not any(r["name"] == "bread" for r in cli(farm.home, "inventory")):
        log_in(browser, farm)
        produce_bread(browser, farm)
    else:
        log_in(browser, farm)
    open_page(browser, farm, "/transfers", "propose-form")
    fill(browser, {"f-tresource": "bread (10 kilogram)", "f-quantity": "4 kg",
                   "f-to": mill.agent_id})
    browser.find_element(By.ID, "propose").click()
    until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#sessions tr.session"),
          "the proposed session on the farm's page")
    browser.save_screenshot(str(tmp_path / "proposed.png"))
    # the mill's page, in a second browser session of its own (its own login cookie)
    browser.delete_all_cookies()
    log_in(browser, mill)

    def accept_button(d: Any) -> Any:
        d.get(f"{mill.http}/transfers")
        return d.find_elements(By.CSS_SELECTOR, "#sessions button.accept")

    until(browser, accept_button, "the proposal to reach the mill's page")[0].click()
    until(browser, lambda d: "state=committed" in d.current_url
          or d.find_elements(By.CSS_SELECTOR, "tr.session[data-state='committed']"),
          "the transfer committed")
    wait_until(lambda: [r["accountingQuantity"]["hasNumericalValue"]
                        for r in cli(farm.home, "inventory") if r["name"] == "bread"] == ["6"],
               timeout=WAIT, what="6 kg left on the farm")
    mill_has = [r for r in cli(mill.home, "inventory") if r["accountingQuantity"]
                ["hasNumericalValue"] == "4"]
    assert mill_has, "the mill holds the 4 kg"
    # the Sankey on the farm's page: the transfer between the two
    browser.delete_all_cookies()
    log_in(browser, farm)
    open_page(browser, farm, "/reports/flows", "sankey")
    sankey = browser.find_element(By.CSS_SELECTOR, "#sankey svg")
    assert sankey.size["width"] > 300
    assert "transfer" in sankey.get_attribute("innerHTML")
