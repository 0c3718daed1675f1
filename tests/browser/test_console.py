"""The console in a real headless Chromium against a real server (uvicorn, FakeEngine: the
engine is not what these tests are about): sign-in, charts equal to the usage report, keys
created and disabled in the page as the official SDK sees them, CSRF, and screenshots."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest
from fastapi import FastAPI

from parley.domain.metering import LedgerEntry
from parley.settings import Settings
from tests.helpers import (
    ADMIN_KEY,
    API_KEY,
    MODEL,
    blocking,
    create_keys,
    fake_app,
    free_port,
    running,
)

pytestmark = pytest.mark.slow

PAGES = ["usage", "limits", "keys", "cache", "batches", "models"]
WIDTHS = {"desktop": (1366, 900), "phone": (390, 844)}
SCREENSHOTS_ENV = "PARLEY_CONSOLE_SCREENSHOTS"  # set: also write them to bench/results/console/


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, str]]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("console-data"))
    create_keys(settings)
    app = fake_app(settings)
    with running(app, free_port()) as url:
        yield app, url


@pytest.fixture(scope="module")
def url(served: tuple[FastAPI, str]) -> str:
    return served[1]


def sdk(url: str, key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=url, api_key=key, max_retries=0, timeout=30)


def ask(url: str, key: str, text: str = "Which valve?") -> anthropic.types.Message:
    return sdk(url, key).messages.create(
        model=MODEL, max_tokens=8, messages=[{"role": "user", "content": text}]
    )


def sign_in(browser: Any, url: str, key: str = ADMIN_KEY) -> None:
    from selenium.webdriver.common.by import By

    browser.delete_all_cookies()
    browser.get(f"{url}/console/sign-in")
    browser.find_element(By.ID, "key").send_keys(key)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    shown(browser, "body:not(.sign-in), .alert")


def shown(browser: Any, selector: str) -> Any:
    """The element, once the page that has it has loaded (a form's answer loads after the
    click returns)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, 10).until(
        lambda driver: driver.find_element(By.CSS_SELECTOR, selector)
    )


@pytest.fixture(scope="module")
def traffic(url: str) -> list[anthropic.types.Message]:
    """A few real requests through the SDK, billed before the pages are opened: three plain
    ones, and a long cached system prompt written once and read once."""
    sent = [ask(url, API_KEY, f"Question {n}: which valve opens first?") for n in range(3)]
    manual = " ".join(
        f"Rule {n}: close valve {n % 7} before opening valve {n % 5}." for n in range(200)
    )
    for _ in range(2):
        sent.append(
            sdk(url, API_KEY).messages.create(
                model=MODEL,
                max_tokens=8,
                system=[{"type": "text", "text": manual, "cache_control": {"type": "ephemeral"}}],
                messages=[{"role": "user", "content": "Which valve first?"}],
            )
        )
    assert sent[-1].usage.cache_read_input_tokens > 0
    return sent


def test_an_admin_key_signs_in_to_the_usage_page(browser: Any, url: str) -> None:
    from selenium.webdriver.common.by import By

    sign_in(browser, url)
    assert browser.current_url.endswith("/console/usage")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Usage & cost"
    cookie = browser.get_cookie("parley_console")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"


def test_the_charts_show_the_usage_reports_numbers(
    browser: Any, url: str, traffic: list[anthropic.types.Message]
) -> None:
    from selenium.webdriver.common.by import By

    sign_in(browser, url)
    browser.get(f"{url}/console/usage?range=24h&bucket=1h")
    assert browser.find_elements(By.CSS_SELECTOR, "svg.chart rect")
    rows = browser.find_elements(By.CSS_SELECTOR, "#series tbody tr")
    shown = {
        row.get_attribute("data-bucket"): [
            int(row.get_attribute(f"data-{name}") or 0)
            for name in ("uncached", "writes", "read", "output")
        ]
        for row in rows
    }
    first = datetime.fromisoformat(rows[0].get_attribute("data-bucket"))
    report = httpx.get(
        f"{url}/v1/organizations/usage_report/messages",
        params={"starting_at": first.isoformat(), "bucket_width": "1h", "limit": len(rows)},
        headers={"x-api-key": ADMIN_KEY},
    ).json()
    expected = {}
    for bucket in report["data"]:
        start = datetime.fromisoformat(bucket["starting_at"].replace("Z", "+00:00"))
        sums = [0, 0, 0, 0]
        for r in bucket["results"]:
            writes = r["cache_creation"]
            sums[0] += r["uncached_input_tokens"]
            sums[1] += writes["ephemeral_5m_input_tokens"] + writes["ephemeral_1h_input_tokens"]
            sums[2] += r["cache_read_input_tokens"]
            sums[3] += r["output_tokens"]
        expected[start.astimezone(UTC).isoformat()] = sums
    assert shown == expected
    output = sum(m.usage.output_tokens for m in traffic)
    assert sum(v[3] for v in shown.values()) >= output > 0
    requests = browser.find_element(By.ID, "total-requests").text
    assert int(requests.replace(",", "")) >= len(traffic)


def test_a_key_created_in_the_page_works_until_disabled_there(browser: Any, url: str) -> None:
    from selenium.webdriver.common.by import By

    sign_in(browser, url)
    browser.get(f"{url}/console/keys")
    browser.find_element(By.ID, "key-name").send_keys("made-in-the-console")
    browser.find_element(By.CSS_SELECTOR, "form[action='/console/keys/create'] button").click()
    secret = shown(browser, "#secret").text
    assert secret.startswith("sk-ant-api03-")
    assert ask(url, secret).type == "message"

    browser.get(f"{url}/console/keys")
    assert secret not in browser.page_source  # shown once
    row = next(
        r
        for r in browser.find_elements(By.CSS_SELECTOR, "#keys tbody tr")
        if "made-in-the-console" in r.text
    )
    key_id = row.get_attribute("data-key")
    row.find_element(By.CSS_SELECTOR, "button.danger").click()
    shown(browser, f"tr[data-key='{key_id}'] .status.inactive")
    with pytest.raises(anthropic.AuthenticationError):
        ask(url, secret)


def test_a_workspace_key_cannot_open_the_console(browser: Any, url: str) -> None:

    sign_in(browser, url, API_KEY)
    assert "workspace API key" in shown(browser, ".alert").text
    browser.get(f"{url}/console/keys")
    assert browser.current_url.endswith("/console/sign-in")


def test_a_form_without_its_csrf_token_is_refused(browser: Any, url: str) -> None:
    from selenium.webdriver.common.by import By

    sign_in(browser, url)
    browser.get(f"{url}/console/keys")
    form = browser.find_element(By.CSS_SELECTOR, "form[action='/console/workspaces/create']")
    browser.execute_script("arguments[0].querySelector('[name=csrf]').remove()", form)
    form.find_element(By.ID, "ws-name").send_keys("forged")
    form.find_element(By.TAG_NAME, "button").click()
    assert "security token" in shown(browser, ".alert").text
    browser.get(f"{url}/console/keys")
    assert "forged" not in browser.find_element(By.ID, "workspaces").text


def screenshot_folders(tmp_path: Path) -> list[Path]:
    folders = [tmp_path]
    if os.environ.get(SCREENSHOTS_ENV):
        folders.append(Path(__file__).parents[2] / "bench" / "results" / "console")
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    return folders


def history(app: FastAPI) -> None:
    """A day of earlier requests like the test key's last one, a varying number each hour, so
    the pictures show charts with a shape (written after the tests that compare numbers)."""
    now = datetime.now(UTC)
    principal = blocking(app.state.keys.authenticate(API_KEY))
    rows = blocking(app.state.ledger.read(principal.organization_id, now - timedelta(hours=1), now))
    template: LedgerEntry = [row for row in rows if row.api_key_id == principal.key_id][-1]
    for hour in range(1, 24):
        for n in range(1 + (hour * 7) % 5):
            when = now - timedelta(hours=hour, minutes=n)
            counts = {
                "uncached_input_tokens": 300 + 40 * n,
                "cache_read_tokens": 1800 if (hour + n) % 3 else 0,
                "cache_write_5m_tokens": 0 if (hour + n) % 3 else 1800,
                "output_tokens": 120 + 15 * hour,
            }
            costs = {  # the packaged model's default prices: $0.10 / $0.50 per MTok
                "cost_uncached_picodollars": counts["uncached_input_tokens"] * 100_000,
                "cost_read_picodollars": counts["cache_read_tokens"] * 10_000,
                "cost_write_5m_picodollars": counts["cache_write_5m_tokens"] * 125_000,
                "cost_output_picodollars": counts["output_tokens"] * 500_000,
            }
            entry = replace(
                template,
                request_id=f"req_history_{hour}_{n}",
                message_id=f"msg_history_{hour}_{n}",
                started_at=when - timedelta(seconds=2),
                completed_at=when,
                cost_picodollars=sum(costs.values()),
                **counts,
                **costs,
            )
            blocking(app.state.ledger.record(entry))


@pytest.fixture(scope="module")
def pictured(
    served: tuple[FastAPI, str], traffic: list[anthropic.types.Message]
) -> tuple[FastAPI, str]:
    """The server with a history of usage and an ended batch (one request errored), so
    each picture shows a page with something on it."""
    app, url = served
    history(app)
    client = sdk(url, API_KEY)
    good: Any = {"model": MODEL, "max_tokens": 8, "messages": [{"role": "user", "content": "Hi"}]}
    requests: list[Any] = [{"custom_id": f"q-{i}", "params": good} for i in range(4)]
    requests.append({"custom_id": "bad", "params": good | {"model": "no-such-model"}})
    batch = client.messages.batches.create(requests=requests)
    for _ in range(300):
        if client.messages.batches.retrieve(batch.id).processing_status == "ended":
            break
        time.sleep(0.1)
    return served


@pytest.mark.parametrize("name", ["sign-in", *PAGES])
def test_every_page_is_captured_at_desktop_and_phone_width(
    browser: Any, pictured: tuple[FastAPI, str], tmp_path: Path, name: str
) -> None:
    _app, url = pictured
    folders = screenshot_folders(tmp_path)
    sign_in(browser, url)
    written = []
    for label, (width, height) in WIDTHS.items():
        if name == "sign-in":
            browser.delete_all_cookies()
        metrics = {"width": width, "height": height, "deviceScaleFactor": 1}
        metrics["mobile"] = label == "phone"
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        browser.get(f"{url}/console/{name}?range=24h&bucket=1h")
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth > window.innerWidth"
        )
        assert not overflow, f"{name} scrolls sideways at {label} width"
        full = browser.execute_script("return document.documentElement.scrollHeight")
        metrics["height"] = max(height, int(full))
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        for folder in folders:
            path = folder / f"{name}-{label}.png"
            browser.save_screenshot(str(path))
            written.append(path)
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    assert all(path.stat().st_size > 5000 for path in written)
