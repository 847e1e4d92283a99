"""The report as a person sees it: opened in headless Chromium, on a laptop and a phone.

From a diagnosis and remediation recorded from a real ``ads demo`` run: the page renders with no
console errors, shows the summary, the links and the timeline, and its chart has tick labels on
both axes and the kill marker, visible. At phone width nothing makes the page scroll sideways.
Screenshots are kept in build/artifacts/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ads.actions.report_html import diagnosis_html
from ads.interfaces.http_server import BackgroundServer
from ads.models import Diagnosis, Remediation

from ..fixtures.browser import console_errors, screenshot
from ..fixtures.served_reports import pages_app, stocked_context

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "report_recorded"


def recorded_report(tmp_path: Path) -> Path:
    diagnosis = Diagnosis.model_validate_json((RECORDED / "diagnosis.json").read_text())
    remediation = Remediation.model_validate_json((RECORDED / "remediation.json").read_text())
    path = tmp_path / "report.html"
    path.write_text(diagnosis_html(diagnosis, remediation), encoding="utf-8")
    return path


def texts(driver: Any, css: str) -> list[str]:
    from selenium.webdriver.common.by import By

    return [e.text.strip() for e in driver.find_elements(By.CSS_SELECTOR, css)]


def test_the_report_renders_with_links_timeline_and_chart(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    browser.set_window_size(1200, 1600)
    browser.get(recorded_report(tmp_path).as_uri())
    assert console_errors(browser) == []
    assert "ads-demo-service · incident #1" in browser.find_element(By.ID, "title").text
    summary = browser.find_element(By.ID, "summary").text
    assert "Root cause" in summary and "worker.c:26-27 in controller()" in summary
    links = {a.text: a.get_attribute("href") for a in browser.find_elements(By.TAG_NAME, "a")}
    assert links["incident #1"].startswith("https://127.0.0.1:")
    assert any(t.startswith("commit ") and "introduced it" in t for t in links)
    assert any(t.startswith("pull request text") for t in links)
    rows = texts(browser, "#timeline tbody tr")
    assert any("OOM kill #1" in r for r in rows) and any("note written" in r for r in rows)
    assert len(rows) >= 8
    # The chart: tick labels on both axes, read from the rendered SVG's text elements.
    chart = browser.find_element(By.ID, "memory-chart")
    assert chart.is_displayed() and chart.size["width"] > 400
    labels = {t.strip() for t in texts(browser, "#memory-chart text")}
    assert {"0", "20", "40", "60"} <= labels and {"0.0", "1.0", "2.0"} <= labels
    assert "memory (MiB)" in labels and "limit 64Mi" in labels
    marker = browser.find_element(By.ID, "oom-kill-1")
    assert marker.is_displayed() and marker.size["width"] > 0
    screenshot(browser, "report-laptop", tmp_path)


def test_the_report_fits_a_phone(browser: Any, tmp_path: Path) -> None:
    browser.set_window_size(390, 844)
    browser.get(recorded_report(tmp_path).as_uri())
    assert console_errors(browser) == []
    page_width = browser.execute_script("return document.documentElement.scrollWidth")
    view_width = browser.execute_script("return window.innerWidth")
    assert page_width <= view_width  # tables scroll inside their box; the page never sideways
    chart_width = browser.execute_script(
        "return document.getElementById('memory-chart').getBoundingClientRect().width"
    )
    assert 0 < chart_width <= view_width
    screenshot(browser, "report-phone", tmp_path)


def test_the_serve_page_lists_the_demo_incident_and_opens_its_report(
    browser: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    ctx, diagnosis = stocked_context(tmp_path)
    browser.set_window_size(1200, 1000)
    with BackgroundServer(pages_app(ctx)) as server:
        browser.get(server.url + "/")
        assert console_errors(browser) == []
        rows = texts(browser, "#incidents tbody tr")
        assert any(r.startswith("#1") and "done" in r and "worker.c:26-27" in r for r in rows)
        screenshot(browser, "serve-index", tmp_path)
        browser.find_element(By.LINK_TEXT, "#1").click()
        WebDriverWait(browser, 30).until(expected_conditions.url_contains(diagnosis.incident.id))
        assert console_errors(browser) == []
        assert "incident #1" in browser.find_element(By.ID, "title").text
        assert browser.find_element(By.ID, "memory-chart").is_displayed()
        assert browser.find_element(By.ID, "oom-kill-1").is_displayed()
        assert any("webhook received by ads serve" in r for r in texts(browser, "#timeline tr"))
        screenshot(browser, "serve-report", tmp_path)
        browser.find_element(By.LINK_TEXT, "← all incidents").click()
        WebDriverWait(browser, 30).until(expected_conditions.url_to_be(server.url + "/"))


def test_beyond_loopback_a_browser_signs_in_with_the_token_and_lands_on_its_page(
    browser: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    ctx, diagnosis = stocked_context(tmp_path)
    token = "browser-admin-token-3"
    report = f"/incidents/{diagnosis.incident.id}"
    browser.set_window_size(1200, 1000)
    browser.delete_all_cookies()
    # Configured for 0.0.0.0 (the guard decides from that), served here on loopback.
    with BackgroundServer(pages_app(ctx, host="0.0.0.0", token=token)) as server:
        browser.get(server.url + report)
        WebDriverWait(browser, 30).until(expected_conditions.url_contains("/login"))
        assert browser.find_element(By.ID, "title").text == "ADS: sign in"
        browser.find_element(By.ID, "token").send_keys("a guess")
        browser.find_element(By.ID, "sign-in").click()
        WebDriverWait(browser, 30).until(
            expected_conditions.presence_of_element_located((By.ID, "login-error"))
        )
        assert "wrong token" in browser.find_element(By.ID, "login-error").text
        assert [e for e in console_errors(browser) if "401" not in e] == []  # the guess's 401
        browser.find_element(By.ID, "token").send_keys(token)
        browser.find_element(By.ID, "sign-in").click()
        WebDriverWait(browser, 30).until(expected_conditions.url_to_be(server.url + report))
        assert console_errors(browser) == []
        assert "incident #1" in browser.find_element(By.ID, "title").text
        assert browser.find_element(By.ID, "memory-chart").is_displayed()
        cookies = {c["name"]: c for c in browser.get_cookies()}
        assert cookies["ads_session"]["httpOnly"] and token not in cookies["ads_session"]["value"]
        browser.find_element(By.LINK_TEXT, "← all incidents").click()
        WebDriverWait(browser, 30).until(expected_conditions.url_to_be(server.url + "/"))
        assert any(r.startswith("#1") for r in texts(browser, "#incidents tbody tr"))
        screenshot(browser, "serve-signed-in", tmp_path)
    browser.delete_all_cookies()
