"""The agent desktop and the wallboard in a real headless Chromium, against a real `make run`.

The launcher starts what `make run` starts (gunicorn with its threads, a worker, the embedded
Redis, the stand-in for Twilio with its live calls); Debian's Chromium, driven by Playwright,
shows the pages; callers are placed through the stand-in's control API, as `make call` does.
The tests check what the agent and the supervisor see: the agent goes ready, the call rings
in the page with its screen pop, is answered, hung up and wrapped up there; the wallboard shows
the caller waiting and the answer, with the figures `/api/supervisor/queues` gives; the board
sets an agent's state; sign-in and CSRF are enforced in the browser.

How fast the pages follow is measured by `python -m bench.push`, not asserted here: the waits
below are generous bounds for a loaded machine, not timings.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from playwright.sync_api import Browser, Page, expect, sync_playwright

from hotline_tools.launcher import LOCAL_DEFAULTS
from hotline_tools.preflight import simulated_data_dir
from ivr import keys
from ivr.store import embedded_url, stop_embedded_redis
from standin.control import Control
from tests.conftest import DEMO_CALLER, OPEN_HOURS
from tests.test_launcher import Launcher, free_ports

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HOTLINE_NUMBER = "+864001234567"
SOON = 15_000  # ms: a bound for what comes within a second or two (a loaded machine), not a timing


@dataclass
class Hotline:
    """A running `make run` and what it printed."""

    url: str
    control: Control
    agent_token: str
    supervisor_token: str
    redis: redis.Redis
    started: float  # the real instant (Unix seconds) the hotline's clock read OPEN_HOURS

    def now(self) -> datetime:
        """The hotline's time: its clock runs at real speed from a weekday morning."""
        return OPEN_HOURS + timedelta(seconds=time.time() - self.started)

    def queues(self) -> dict[str, Any]:
        """`GET /api/supervisor/queues`, per department."""
        resp = requests.get(
            f"{self.url}/api/supervisor/queues",
            headers={"Authorization": f"Bearer {self.supervisor_token}"},
            timeout=10,
        )
        resp.raise_for_status()
        return {q["department"]: q for q in resp.json()["queues"]}


@pytest.fixture(scope="module")
def hotline() -> Iterator[Hotline]:
    """`make run` on free ports and a data directory of its own, for this module."""
    root = Path(tempfile.mkdtemp(prefix="hotline-browser-"))
    port, standin_port = free_ports(2)
    # The hotline's clock starts on a weekday morning, whatever the hour CI runs at: a caller at
    # night would hear the opening hours instead of the queue's music.
    started = time.time()
    launcher = Launcher(
        root,
        port,
        standin_port,
        HOTLINE_CLOCK_START=OPEN_HOURS.isoformat(),
        HOTLINE_CLOCK_ORIGIN=str(started),
    )
    data_dir = simulated_data_dir(root)  # where a run on a simulated clock keeps its Redis
    try:
        agent = launcher.wait_for(r'make console ARGS="--token (hl_[^"]+)"').group(1)
        supervisor = launcher.wait_for(r"wallboard: \S+ \(sign in with (hl_\S+)\)").group(1)
        control = Control(
            f"http://127.0.0.1:{standin_port}",
            LOCAL_DEFAULTS["TWILIO_ACCOUNT_SID"],
            LOCAL_DEFAULTS["TWILIO_AUTH_TOKEN"],
        )
        conn = redis.Redis.from_url(embedded_url(data_dir), decode_responses=True)
        yield Hotline(f"http://127.0.0.1:{port}", control, agent, supervisor, conn, started)
    finally:
        launcher.stop()
        stop_embedded_redis(data_dir)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless (`make test` installs it where it is missing)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def signed_in(browser: Browser, url: str, token: str, **context: Any) -> Page:
    """A fresh browser context on `url`, signed in with `token` through the page's form."""
    page = browser.new_context(**context).new_page()
    page.goto(url)
    page.get_by_label(re.compile("访问令牌|Access token")).fill(token)
    page.keyboard.press("Enter")
    expect(page.locator("#signout")).to_be_visible(timeout=SOON)  # the signed-in page has loaded
    return page


class Caller:
    """A caller on the stand-in's phone, reading what they hear."""

    def __init__(self, control: Control, from_: str = DEMO_CALLER) -> None:
        self.control, self.seen = control, 0
        self.sid = control.place(from_, HOTLINE_NUMBER)

    def until(self, kind: str, state: str = "", text: str = "") -> dict[str, Any]:
        """The next event of `kind` (in `state`, saying `text`); fails when none comes soon."""
        while True:
            events = self.control.events(self.sid, self.seen, wait=SOON / 1000)["events"]
            if not events:
                pytest.fail(f"no {kind} {state or text} on the caller's phone")
            for event in events:
                self.seen = event["n"]
                if (
                    event["kind"] == kind
                    and event.get("state", state) == state
                    and text in event.get("text", "")
                ):
                    return event

    def queue_for_payments(self) -> None:
        """Mandarin, the demo account (verified by caller ID), a failed top-up, an agent."""
        self.until("say", text="普通话服务请按1")
        for pressed in ("1", "6222000017", "1", "1", "1"):
            self.until("state", "gathering")
            self.control.act(self.sid, "keys", pressed)
        self.until("state", "gathering")  # the reference number, which may be repeated
        self.control.act(self.sid, "silence")
        self.until("play")  # the hold music: queued


def figure(page: Page, department: str, field: str) -> str:
    """A wallboard figure as the supervisor reads it."""
    return page.locator(f'article[data-dept="{department}"] [data-field="{field}"] .value').inner_text()


def test_a_call_rings_in_the_desktop_is_answered_and_wrapped_up_while_the_wallboard_follows(
    hotline: Hotline, browser: Browser
) -> None:
    desk = signed_in(browser, f"{hotline.url}/agent", hotline.agent_token)
    board = signed_in(browser, f"{hotline.url}/wallboard", hotline.supervisor_token)
    expect(desk.locator("#state")).to_have_text("离线", timeout=SOON)  # li_na reads Mandarin
    expect(board.locator("#connection")).to_have_text("实时连接", timeout=SOON)
    assert figure(board, "payments", "waiting") == "0"

    # The agent goes ready from the keyboard.
    desk.locator("#go-ready").focus()
    desk.keyboard.press("Enter")
    expect(desk.locator("#state")).to_have_attribute("data-state", "ready", timeout=SOON)
    expect(desk.locator("#time-in-state")).to_have_text(re.compile(r"^0:0[1-9]$"), timeout=SOON)  # counting
    expect(board.locator('tr[data-agent="li_na"]')).to_have_attribute("data-state", "ready", timeout=SOON)
    # A caller joining now would hear "less than a minute": the board says the same words.
    assert hotline.queues()["payments"]["estimated_wait_spoken"]["kind"] == "soon"
    expected_wait = board.locator('article[data-dept="payments"] [data-field="estimated_wait_range"] .value')
    expect(expected_wait).to_have_text("不到1分钟", timeout=SOON)

    # Nobody else is ready for payments: the caller rings li_na at once, and her page pops.
    desk.locator("#go-offline").click()
    expect(desk.locator("#state")).to_have_attribute("data-state", "offline", timeout=SOON)
    caller = Caller(hotline.control)
    caller.queue_for_payments()
    expect(board.locator('article[data-dept="payments"] [data-field="waiting"] .value')).to_have_text(
        "1", timeout=SOON
    )
    assert hotline.queues()["payments"]["waiting"] == 1  # the board shows what the API says
    desk.locator("#go-ready").click()
    expect(desk.locator("#ringing")).to_be_visible(timeout=SOON)
    ref = hotline.redis.hget(keys.call(caller.sid), "ref")
    assert ref and desk.locator("#pop-ref").inner_text() == ref
    assert desk.locator("#pop-account").inner_text() == "******0017"
    assert desk.locator("#pop-verified").inner_text() == "已验证 (来电号码)"
    assert desk.locator("#pop-issue").inner_text() == "充值失败"  # the issue as the menu names it
    assert desk.locator("#pop-language").inner_text() == "zh-CN"
    assert desk.locator("#pop-previous").inner_text() == "0"
    assert "6222000017" not in desk.content()

    # Answer on the page's phone (the stand-in's client:li_na), from the keyboard: the ring took the
    # focus from the button she pressed to Answer, the call takes it to Hang up, wrap-up to the disposition.
    expect(desk.locator("#ringing")).to_have_attribute("role", "alert")  # said by a screen reader
    expect(desk.locator("#answer")).to_be_focused(timeout=SOON)
    desk.keyboard.press("Enter")
    expect(desk.locator("#state")).to_have_attribute("data-state", "on_call", timeout=SOON)
    assert caller.until("answered")["by"] == "li_na"  # the caller hears the agent
    expect(board.locator('article[data-dept="payments"] [data-field="answered"] .value')).to_have_text(
        "1", timeout=SOON
    )
    payments = hotline.queues()["payments"]
    assert (payments["answered"], payments["waiting"], payments["offered"]) == (1, 0, 1)
    assert figure(board, "payments", "offered") == "1" and figure(board, "payments", "waiting") == "0"

    # Hang up, then wrap up with a disposition and notes.
    expect(desk.locator("#hangup")).to_be_focused(timeout=SOON)
    desk.keyboard.press("Enter")
    expect(desk.locator("#state")).to_have_attribute("data-state", "wrap_up", timeout=SOON)
    expect(desk.locator("#disposition")).to_be_focused(timeout=SOON)
    desk.get_by_label("处理结果").select_option("resolved")
    desk.get_by_label("处理备注").fill("充值已到账")
    desk.locator("#do-wrapup").click()
    expect(desk.locator("#message")).to_have_text("完成", timeout=SOON)
    record = hotline.redis.hgetall(keys.call(caller.sid))
    assert (record["disposition"], record["disposition_by"]) == ("resolved", "li_na")
    assert json.loads(record["notes"])[-1]["text"] == "充值已到账"


def test_an_api_error_is_shown_in_words(hotline: Hotline, browser: Browser) -> None:
    """A transfer with no call: the API's 409 appears as a sentence, not a code."""
    desk = signed_in(browser, f"{hotline.url}/agent", hotline.agent_token, locale="en-US")
    desk.locator("form[action='/language'] button").click()  # show the page in English
    expect(desk.locator("#state-title")).to_have_text("State", timeout=SOON)
    # The page's script has run once it shows the agent's state: a click before it would meet
    # buttons with nothing behind them (the transfer form would submit itself and reload the page).
    expect(desk.locator("#state")).not_to_have_attribute("data-state", "", timeout=SOON)
    desk.locator("#go-offline").click()
    # Offline before the transfer is asked for: the two requests do not race each other.
    expect(desk.locator("#state")).to_have_attribute("data-state", "offline", timeout=SOON)
    desk.get_by_label("To a department").select_option("security")
    desk.locator("#do-transfer").click()
    # One wait for the whole sentence: another error shown first (a heartbeat or the phone's
    # registration failing on a loaded machine) must not end the wait before the transfer's answer.
    refused = re.compile(r"Error: .*no call to transfer")
    expect(desk.locator("#message")).to_contain_text(refused, timeout=SOON)


def test_an_abandon_is_marked_and_the_board_sets_an_agents_state(hotline: Hotline, browser: Browser) -> None:
    """A caller hangs up on hold: the board counts it and marks the abandonment rate (over 10 %)."""
    board = signed_in(browser, f"{hotline.url}/wallboard", hotline.supervisor_token)
    expect(board.locator("#connection")).to_have_text("实时连接", timeout=SOON)
    before = hotline.queues()["payments"]
    caller = Caller(hotline.control, "+8613912345678")
    caller.queue_for_payments()
    hotline.control.act(caller.sid, "hangup")
    abandoned = board.locator('article[data-dept="payments"] [data-field="abandonment_rate"]')
    expect(abandoned).to_have_class(re.compile("marked"), timeout=SOON)
    expect(abandoned).to_contain_text("超出阈值")
    payments = hotline.queues()["payments"]
    assert payments["abandoned"] == before["abandoned"] + 1 and payments["abandonment_rate"] > 0.1
    assert figure(board, "payments", "abandoned") == str(payments["abandoned"])
    assert figure(board, "payments", "abandonment_rate") == f"{round(payments['abandonment_rate'] * 100)}%"

    # The week's heat map: a cell per hour, ▲ on the peak hours the supervisor API names.
    board.get_by_label("部门", exact=True).select_option("payments")
    expect(board.locator("#week tbody td")).to_have_count(168)
    peaks = board.locator("#week tbody td.peak-hour")
    marked = sorted(int(h) for h in peaks.evaluate_all("cells => cells.map(c => c.dataset.how)"))
    assert marked and marked == hotline.queues()["payments"]["peak_hours"]  # the rollup ran at start
    assert all(text == "▲" for text in peaks.all_inner_texts())

    row = board.locator('tr[data-agent="wang_wei"]')
    expect(row).to_be_visible(timeout=SOON)
    row.locator("select").first.select_option("ready")
    row.get_by_role("button").click()
    expect(row).to_have_attribute("data-state", "ready", timeout=SOON)
    agents = requests.get(
        f"{hotline.url}/api/supervisor/agents",
        headers={"Authorization": f"Bearer {hotline.supervisor_token}"},
        timeout=10,
    ).json()["agents"]
    assert next(a for a in agents if a["id"] == "wang_wei")["state"] == "ready"
    row = board.locator('tr[data-agent="wang_wei"]')
    row.locator("select").first.select_option("offline")
    row.get_by_role("button").click()
    expect(board.locator('tr[data-agent="wang_wei"]')).to_have_attribute(
        "data-state", "offline", timeout=SOON
    )


def test_sign_in_and_csrf_are_enforced_and_the_token_is_kept_nowhere(
    hotline: Hotline, browser: Browser
) -> None:
    page = browser.new_context().new_page()
    page.goto(f"{hotline.url}/agent")
    page.get_by_label("访问令牌").fill("hl_wrong")
    page.keyboard.press("Enter")
    expect(page.locator("#signin-error")).to_have_text("令牌无效或已被撤销。")
    assert page.evaluate("fetch('/live/agent').then(r => r.status)") == 401

    page.get_by_label("访问令牌").fill(hotline.agent_token)
    page.keyboard.press("Enter")
    expect(page.locator("#go-ready")).to_be_visible()
    assert hotline.agent_token not in page.url
    stored = page.evaluate("JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])")
    assert hotline.agent_token not in stored and hotline.agent_token not in page.content()
    cookie = next(c for c in page.context.cookies() if c["name"] == "hotline_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # the script cannot read it

    # The page's own fetch without the CSRF header is refused, and changes nothing.
    status = page.evaluate(
        """fetch('/api/agent/state', {method: 'PUT', headers: {'Content-Type': 'application/json'},
                 body: JSON.stringify({state: 'ready'})}).then(r => r.status)"""
    )
    assert status == 403
    assert page.evaluate("fetch('/api/agent/me').then(r => r.json()).then(b => b.state)") != "ready"

    # Signed out, the API and the stream refuse the same browser.
    page.locator("#signout").click()
    expect(page.get_by_label("访问令牌")).to_be_visible()
    assert page.evaluate("fetch('/api/agent/me').then(r => r.status)") == 401


def test_the_desktop_fits_a_phone(hotline: Hotline, browser: Browser) -> None:
    """On a 360 px wide screen nothing needs sideways scrolling and every button can be reached."""
    desk = signed_in(
        browser, f"{hotline.url}/agent", hotline.agent_token, viewport={"width": 360, "height": 740}
    )
    expect(desk.locator("#state")).not_to_have_text("…", timeout=SOON)
    assert desk.evaluate("document.documentElement.scrollWidth") <= 360
    for button in ("#go-ready", "#go-not-ready", "#go-offline", "#answer", "#do-transfer", "#do-wrapup"):
        box = desk.locator(button).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360, button


def test_the_wallboard_fits_a_phone_and_speaks_the_hotlines_time(hotline: Hotline, browser: Browser) -> None:
    """At 360 px the board's wide tables scroll in their cards; its times are the hotline's, 24-hour."""
    board = signed_in(
        browser,
        f"{hotline.url}/wallboard",
        hotline.supervisor_token,
        viewport={"width": 360, "height": 740},
        timezone_id="America/New_York",  # a browser elsewhere: the board keeps the hotline's time
    )
    expect(board.locator("#connection")).to_have_text("实时连接", timeout=SOON)
    expect(board.locator('tr[data-agent="li_na"]')).to_be_visible(timeout=SOON)
    assert board.evaluate("document.documentElement.scrollWidth") <= 360
    shanghai = hotline.now()
    as_of = board.locator("#as-of").inner_text()
    assert re.fullmatch(r"\d\d:\d\d:\d\d", as_of), as_of  # 24-hour, no "AM" on a Chinese page
    shown = datetime.combine(shanghai.date(), datetime.strptime(as_of, "%H:%M:%S").time(), shanghai.tzinfo)
    apart = abs((shown - shanghai).total_seconds())
    assert min(apart, 86_400 - apart) < 60
    # A service level under its target says so (not "over threshold"), beside the marked figure.
    card = board.evaluate(
        """() => [...queueCard({department: 'payments', peak_hour_now: false, estimated_wait_range: null,
              agents: {}, callbacks: {callbacks_requested: 0, callbacks_scheduled: 0,
              callbacks_connected: 0, callbacks_failed: 0}, waiting: 0, longest_wait_seconds: 0,
              offered: 4, answered: 4, abandoned: 0, service_level: 0.5, abandonment_rate: 0,
              average_wait_seconds: 30, average_handle_seconds: 90},
              {service_level_target: 0.8, longest_wait_alert_seconds: 120, abandonment_alert: 0.1}
            ).querySelector('[data-field=service_level]').children].map(c => c.textContent)"""
    )
    assert card == ["服务水平", "50%", "⚠ 低于目标"]
    # The agents' departments by their names, as the cards are titled.
    assert board.locator('tr[data-agent="li_na"] td').nth(3).inner_text().startswith("综合服务, 支付与充值")


def test_the_open_page_keeps_the_agents_heartbeat(hotline: Hotline, browser: Browser) -> None:
    """The page beats every 20 s (its timers run on a clock the test moves): a ready agent stays alive."""
    bearer = {"Authorization": f"Bearer {hotline.agent_token}"}
    ready = requests.put(
        f"{hotline.url}/api/agent/state", json={"state": "ready"}, headers=bearer, timeout=10
    )
    assert ready.status_code == 200
    went_ready = hotline.redis.zscore(keys.agent_heartbeats(), "li_na")
    assert went_ready is not None
    page = browser.new_context().new_page()
    page.clock.install()
    page.goto(f"{hotline.url}/agent")
    page.get_by_label("访问令牌").fill(hotline.agent_token)
    page.keyboard.press("Enter")
    expect(page.locator("#go-ready")).to_be_visible(timeout=SOON)

    def beat_after(score: float) -> bool:
        """Whether a heartbeat newer than `score` comes soon."""
        deadline = time.monotonic() + SOON / 1000
        while time.monotonic() < deadline:
            if (hotline.redis.zscore(keys.agent_heartbeats(), "li_na") or 0) > score:
                return True
            time.sleep(0.1)
        return False

    assert beat_after(went_ready)  # the page beats as it opens
    hotline.redis.zrem(keys.agent_heartbeats(), "li_na")
    page.clock.fast_forward(21_000)  # 20 s later, it beats again
    assert beat_after(0)
    requests.put(f"{hotline.url}/api/agent/state", json={"state": "offline"}, headers=bearer, timeout=10)
    page.context.close()
