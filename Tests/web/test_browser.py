"""The dashboard in a real browser: Debian's chromium, headless, driven by selenium through
Debian's chromedriver (nothing downloaded). Log in, watch a fill and its position appear without
reloading, stop a strategy, cancel an order; an investor sees no controls and the API refuses
them; a screenshot of each page is saved under the test's output (WEB_SCREENSHOTS, default
.data/web-screenshots) for people to look at."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from stack import PASSWORDS, ROOT, Stack

SHOTS = Path(os.environ.get("WEB_SCREENSHOTS", str(ROOT / ".data" / "web-screenshots")))


def chromium() -> tuple[str, str]:
    browser = shutil.which("chromium") or "/usr/bin/chromium"
    driver = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    assert Path(browser).exists() and Path(driver).exists(), "apt-get install chromium chromium-driver"
    return browser, driver


@pytest.fixture
def browser(request: pytest.FixtureRequest) -> Iterator[WebDriver]:
    binary, driver = chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(argument)
    if getattr(request, "param", None) == "phone":
        options.add_experimental_option("mobileEmulation", {"deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 2}})
    b = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    b.implicitly_wait(0)
    try:
        yield b
    finally:
        b.quit()


def shot(b: WebDriver, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    b.save_screenshot(str(SHOTS / f"{name}.png"))


def wait(b: WebDriver, condition: object, seconds: float = 60) -> None:
    # The page redraws its tables whenever the stream brings an event: an element read a moment
    # ago may be gone, so a condition is simply asked again.
    WebDriverWait(b, seconds, poll_frequency=0.2,
                  ignored_exceptions=(StaleElementReferenceException, NoSuchElementException)).until(condition)  # type: ignore[arg-type]


def click(b: WebDriver, selector: str) -> None:
    """Clicks the element in one step in the page (found and clicked between two redraws)."""
    wait(b, lambda d: d.execute_script("const e = document.querySelector(arguments[0]); if (!e) return false; e.click(); return true;",
                                       selector))


def text(b: WebDriver, selector: str) -> str:
    found: str = b.execute_script("const e = document.querySelector(arguments[0]); return e ? e.innerText : '';", selector)
    return found


def attribute(b: WebDriver, selector: str, name: str) -> str:
    found: str = b.execute_script("const e = document.querySelector(arguments[0]); return e ? e.getAttribute(arguments[1]) : '';",
                                  selector, name)
    return found


def login(b: WebDriver, stack: Stack, name: str) -> None:
    b.get(stack.base + "/")
    b.find_element(By.ID, "username").send_keys(name)
    b.find_element(By.ID, "password").send_keys(PASSWORDS[name])
    click(b, "#login-form button[type=submit]")
    wait(b, lambda d: d.find_element(By.ID, "app").is_displayed())
    wait(b, lambda d: d.find_element(By.ID, "live").text == "live")


def view(b: WebDriver, name: str) -> None:
    click(b, f"#nav-{name}")
    wait(b, lambda d: d.find_element(By.ID, name).is_displayed())


def rows(b: WebDriver, table: str) -> list[str]:
    found: list[str] = b.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map((r) => r.innerText);", f"#{table} tbody tr")
    return found


def test_a_trader_watches_fills_arrive_stops_a_strategy_and_cancels_an_order(stack: Stack, browser: WebDriver) -> None:
    b = browser
    login(b, stack, "tara")
    shot(b, "1-overview-before")
    view(b, "positions")
    assert rows(b, "positions-table") == []
    # Ticks flow while the page is open: the strategies fill, the stream tells the page, and the
    # position appears without a reload.
    stack.start_limits_strategy()
    feeding = threading.Thread(target=stack.feed, kwargs={"count": 20_000, "rate": 2_000})
    feeding.start()
    wait(b, lambda d: len(rows(d, "positions-table")) > 0, 90)
    assert any("RELIANCE" in r or "TCS" in r for r in rows(b, "positions-table"))
    assert b.find_elements(By.CSS_SELECTOR, "#events li.fill"), "the fill is in the live events"
    shot(b, "2-positions-live")
    feeding.join()

    view(b, "overview")
    wait(b, lambda d: "sma-" in text(d, "#pnl-table"))
    assert b.find_elements(By.CSS_SELECTOR, "#equity svg path.curve"), "the equity chart has a curve"
    shot(b, "3-overview")

    view(b, "strategies")
    tcs = stack.strategy_id("sma-TCS")
    click(b, f"tr[data-strategy='{tcs}'] button[data-action=stop]")
    wait(b, lambda d: text(d, f"tr[data-strategy='{tcs}'] td.state").startswith("off"))
    strategies = stack.call("GET", "/api/v1/strategies", token=stack.tokens["tara"]).json()
    assert next(s for s in strategies if s["strategy_id"] == tcs)["is_active"] is False
    shot(b, "4-strategies")

    view(b, "orders")
    wait(b, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#orders-table tr[data-status=OPEN] button[data-action=cancel]")) >= 2, 60)
    order_id = attribute(b, "#orders-table tr[data-status=OPEN]", "data-order")
    click(b, f"#orders-table tr[data-order='{order_id}'] button[data-action=cancel]")
    wait(b, lambda d: attribute(d, f"#orders-table tr[data-order='{order_id}']", "data-status") == "CANCELLED")
    assert "cancelled by tara" in text(b, f"#orders-table tr[data-order='{order_id}'] td.reason")
    shot(b, "5-orders")

    view(b, "halts")
    shot(b, "6-halts")


def test_an_investor_sees_no_controls_and_the_api_refuses_them(stack: Stack, browser: WebDriver) -> None:
    b = browser
    login(b, stack, "ivy")
    for page in ("strategies", "positions", "orders", "halts"):
        view(b, page)
        assert not b.find_elements(By.CSS_SELECTOR, f"#{page} button[data-action]"), page
    assert not b.find_element(By.ID, "halt-form").is_displayed()
    assert not b.find_element(By.ID, "flatten-all").is_displayed()
    shot(b, "7-investor")
    answer = stack.call("POST", "/api/v1/halt", token=stack.tokens["ivy"], body={"scope": "user"})
    assert answer.status == 403 and answer.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize("browser", ["phone"], indirect=True)
def test_the_dashboard_fits_a_phones_width(stack: Stack, browser: WebDriver) -> None:
    b = browser
    login(b, stack, "tara")
    for page in ("overview", "orders"):
        view(b, page)
        width = b.execute_script("return document.documentElement.scrollWidth")
        assert width <= 400, f"{page}: the page is {width} px wide on a 390 px screen (tables scroll inside their box)"
        shot(b, f"8-phone-{page}")
