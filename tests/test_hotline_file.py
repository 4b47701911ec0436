"""The hotline file and the process settings are checked whole before anything starts.

Each broken file must be refused with a problem that names the file, the line, the path in the
file and a reason an operator can act on. The assertions compare the exact reported text.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from ivr.hotline.loader import ConfigError, HotlineConfig, load_hotline
from ivr.prompts import PROMPTS_DIR
from ivr.redis_clients import parse_sentinel_url
from ivr.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "hotline.yaml"
DEMO_ACCOUNTS = ROOT / "demo_accounts.yaml"

# The reasons people call (DOMAIN.md): every one must be offered by the issue menu.
DOMAIN_ISSUES = {
    "topup_failed",
    "reverse_transaction",
    "refund",
    "account_security",
    "login",
    "transfer_delayed",
    "fees",
    "close_account",
    "other",
}

VALID_ENV = {"TWILIO_ACCOUNT_SID": "AC" + "1" * 32, "TWILIO_AUTH_TOKEN": "x" * 20}
BOTH_PROMPT_FILES = "prompts/zh-CN.yaml, prompts/en-US.yaml"


def line_of(text: str, needle: str) -> int:
    """The 1-based line of the only occurrence of `needle` in `text`."""
    assert text.count(needle) == 1, f"{needle!r} occurs {text.count(needle)} times"
    return text[: text.index(needle)].count("\n") + 1


@dataclass
class HotlineCopy:
    """A copy of the shipped hotline file (and its demo accounts) in a scratch folder."""

    folder: Path

    @property
    def path(self) -> Path:
        return self.folder / "hotline.yaml"

    @property
    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")

    def data(self) -> dict[str, Any]:
        return yaml.safe_load(self.text)

    def write_data(self, data: dict[str, Any]) -> None:
        self.path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")

    def edit(self, change: Callable[[dict[str, Any]], object]) -> None:
        """Load the file as a dict, let `change` mutate it, write it back (comments are lost)."""
        data = self.data()
        change(data)
        self.write_data(data)

    def replace(self, old: str, new: str) -> int:
        """Replace the only occurrence of `old` in the text; returns the line it is on."""
        text = self.text
        line = line_of(text, old)
        self.path.write_text(text.replace(old, new), encoding="utf-8")
        return line

    def load(self, prompts_dir: Path = PROMPTS_DIR) -> HotlineConfig:
        return load_hotline(self.path, prompts_dir=prompts_dir)

    def problems(self, prompts_dir: Path = PROMPTS_DIR) -> list[str]:
        """The problems the loader reports; fails the test if the file is accepted."""
        with pytest.raises(ConfigError) as caught:
            self.load(prompts_dir)
        problems = caught.value.problems
        assert problems, "a ConfigError must list its problems"
        for problem in problems:  # every problem is also in the message the operator sees
            assert problem in str(caught.value)
        return problems


@pytest.fixture
def hotline(tmp_path: Path) -> HotlineCopy:
    """A scratch copy of hotline.yaml and demo_accounts.yaml to break."""
    shutil.copy(SHIPPED, tmp_path / "hotline.yaml")
    shutil.copy(DEMO_ACCOUNTS, tmp_path / "demo_accounts.yaml")
    return HotlineCopy(tmp_path)


@pytest.fixture
def prompts_copy(tmp_path: Path) -> Path:
    """A scratch copy of the prompt catalogue."""
    folder = tmp_path / "prompts"
    shutil.copytree(PROMPTS_DIR, folder)
    return folder


def assert_reported(problems: list[str], expected: str, text: str | None = None) -> str:
    """`expected` ('path: reason') is reported as 'hotline.yaml:LINE path: reason'.

    With the file's `text`, the line must also be the one where the path's last key (or list
    item) is written. Returns the matching problem.
    """
    pattern = re.compile(r"hotline\.yaml:(\d+) " + re.escape(expected))
    matches = [p for p in problems if pattern.fullmatch(p)]
    assert len(matches) == 1, f"{expected!r} not reported once in {problems}"
    if text is not None:
        line = text.splitlines()[int(pattern.fullmatch(matches[0]).group(1)) - 1].strip()
        last = expected.split(": ", 1)[0].rsplit(".", 1)[-1]
        if last.isdigit():
            assert line.startswith("- "), f"{matches[0]} points at {line!r}"
        else:
            assert line.removeprefix("- ").startswith(f"{last}:"), f"{matches[0]} points at {line!r}"
    return matches[0]


# --- the shipped file -------------------------------------------------------------------------


def test_shipped_file_loads_cleanly() -> None:
    config = load_hotline(SHIPPED)

    assert config.locales == ["zh-CN", "en-US"]
    assert set(config.file.issues) == DOMAIN_ISSUES
    assert set(config.languages) == {"zh-CN", "en-US"}
    assert config.file.hotline.overflow_number == "+862161234567"


def test_every_domain_issue_is_reachable_from_the_issue_menu() -> None:
    flow = load_hotline(SHIPPED).file.flow
    edges = {
        name: [t for t in [node.next, *(opt.next for opt in node.options)] if t]
        for name, node in flow.nodes.items()
    }
    reached, todo = {flow.start}, [flow.start]
    while todo:
        for target in edges[todo.pop()]:
            if target not in reached:
                reached.add(target)
                todo.append(target)

    assert "issue_menu" in reached
    menu = flow.nodes["issue_menu"]
    offered = {opt.issue: opt.next for opt in menu.options if opt.issue}
    assert set(offered) == DOMAIN_ISSUES
    assert len(menu.options) == len(DOMAIN_ISSUES)  # one option per issue, none twice
    for issue, target in offered.items():
        assert target in flow.nodes, issue
        assert target in reached, issue
    # Every path from the menu ends at the one handoff node, which passes the caller to a queue.
    assert [name for name, node in flow.nodes.items() if node.type == "handoff"] == ["handoff"]


def test_the_scratch_copy_loads_before_and_after_a_round_trip(hotline: HotlineCopy) -> None:
    assert hotline.load().locales == ["zh-CN", "en-US"]
    hotline.edit(lambda data: None)
    assert "#" not in hotline.text  # really rewritten by yaml.safe_dump
    assert set(hotline.load().file.issues) == DOMAIN_ISSUES


# --- broken files, one problem each -----------------------------------------------------------


def _nodes(data: dict[str, Any]) -> dict[str, Any]:
    return data["flow"]["nodes"]


def _rename_key(mapping: dict[str, Any], old: str, new: str) -> None:
    mapping[new] = mapping.pop(old)


def _two_handoffs(data: dict[str, Any]) -> None:
    _nodes(data)["handoff_security"] = {"type": "handoff"}
    _nodes(data)["security_menu"]["options"][1]["next"] = "handoff_security"


def _french_offered(data: dict[str, Any]) -> None:
    data["languages"].append({"locale": "fr-FR", "digit": "3"})
    for dept in data["departments"].values():
        dept["names"]["fr-FR"] = "service"


BROKEN = [
    pytest.param(
        lambda d: d["issues"]["refund"].update(department="billing"),
        "issues.refund.department: no department 'billing'",
        id="issue-unknown-department",
    ),
    pytest.param(
        lambda d: _nodes(d)["topup_help"]["options"][0].update(next="agent"),
        "flow.nodes.topup_help.options.0.next: goes to 'agent', which is not a node",
        id="option-to-missing-node",
    ),
    pytest.param(
        lambda d: _nodes(d)["welcome"].update(type="anounce"),
        "flow.nodes.welcome.type: Input should be one of 'language', 'announce', 'account', 'menu', "
        "'freeze', 'handoff'",
        id="unknown-node-kind",
    ),
    pytest.param(
        lambda d: _nodes(d)["welcome"].update(decline_recording_key="99"),
        "flow.nodes.welcome.decline_recording_key: String should match pattern '^[0-9*#]$'",
        id="decline-recording-two-keys",
    ),
    pytest.param(
        lambda d: _nodes(d)["issue_menu"].update(decline_recording_key="9"),
        "flow.nodes.issue_menu: decline_recording_key is offered by an 'announce' node only",
        id="decline-recording-on-a-menu",
    ),
    pytest.param(
        lambda d: d["flow"].update(start="hello"),
        "flow.start: no node 'hello'",
        id="start-missing-node",
    ),
    pytest.param(
        lambda d: _nodes(d)["account"].update(next="issues_menu"),
        "flow.nodes.account.next: goes to 'issues_menu', which is not a node",
        id="next-to-missing-node",
    ),
    pytest.param(
        lambda d: _nodes(d)["issue_menu"]["options"][4].update(digit="3"),
        "flow.nodes.issue_menu.options: digit 3 is used twice",
        id="duplicate-digit",
    ),
    pytest.param(
        lambda d: _nodes(d).update(orphan={"type": "announce", "prompts": ["welcome"], "next": "handoff"}),
        "flow.nodes.orphan: cannot be reached from the start",
        id="unreachable-node",
    ),
    pytest.param(
        lambda d: _nodes(d)["issue_menu"]["options"][2].update(label="label_refunds"),
        f"flow.nodes.issue_menu.options.2.label: no prompt 'label_refunds' in {BOTH_PROMPT_FILES}",
        id="missing-prompt-label",
    ),
    pytest.param(
        lambda d: _nodes(d)["fees_help"].update(prompt="fee_info"),
        f"flow.nodes.fees_help.prompt: no prompt 'fee_info' in {BOTH_PROMPT_FILES}",
        id="missing-prompt-menu",
    ),
    pytest.param(
        lambda d: d["hours"]["weekdays"].update({"mon-fri": "25:00-18:00"}),
        "hours.weekdays: '25:00-18:00' has an impossible time",
        id="hour-25",
    ),
    pytest.param(
        lambda d: d["hours"]["weekdays"].update({"mon-fri": "18:00-09:00"}),
        "hours.weekdays: '18:00-09:00' closes before it opens",
        id="closes-before-opens",
    ),
    pytest.param(
        lambda d: d["hours"]["office"].update({"sat-fri": "10:00-18:00"}),
        "hours.office: 'sat-fri': the range runs backwards",
        id="days-backwards",
    ),
    pytest.param(
        lambda d: d["hotline"].update(timezone="Asia/Shangai"),
        "hotline.timezone: unknown time zone 'Asia/Shangai'",
        id="unknown-time-zone",
    ),
    pytest.param(
        lambda d: d["hotline"].update(overflow_number="021-61234567"),
        "hotline.overflow_number: '021-61234567' is not a valid phone number in E.164 (+8621...)",
        id="overflow-not-e164",
    ),
    pytest.param(
        lambda d: d["hotline"].update(overflow_number="+86123"),
        "hotline.overflow_number: '+86123' is not a valid phone number in E.164 (+8621...)",
        id="overflow-invalid-number",
    ),
    pytest.param(
        lambda d: _rename_key(d["hotline"], "max_tries", "max_trys"),
        "hotline.max_trys: is not a known setting (misspelt?)",
        id="misspelt-hotline-key",
    ),
    pytest.param(
        lambda d: _rename_key(d["departments"]["payments"], "when_closed", "when_close"),
        "departments.payments.when_close: is not a known setting (misspelt?)",
        id="misspelt-department-key",
    ),
    pytest.param(
        _two_handoffs,
        "flow.nodes: exactly one handoff node is needed, found 2",
        id="two-handoffs",
    ),
    pytest.param(
        lambda d: d["agents"][0].update(reach="12345"),
        "agents.0.reach: '12345' is not client:NAME, sip:user@host or a valid number in E.164",
        id="agent-bad-reach",
    ),
    pytest.param(
        lambda d: d["agents"][2]["departments"].update(payments=7),
        "agents.2.departments: skill level of 'payments' must be 1..5, not 7",
        id="agent-skill-7",
    ),
    pytest.param(
        lambda d: d["agents"][1]["departments"].update(billing=2),
        "agents.1.departments: no department 'billing'",
        id="agent-unknown-department",
    ),
    pytest.param(
        lambda d: d["agents"][0]["languages"].append("fr-FR"),
        "agents.0.languages: fr-FR is not an offered language",
        id="agent-language-not-offered",
    ),
    pytest.param(
        lambda d: d["issues"]["refund"].update(priority="vip"),
        "issues.refund.priority: no priority class 'vip'",
        id="undefined-priority",
    ),
    pytest.param(
        lambda d: d["issues"]["account_security"].update(verified_priority="critical"),
        "issues.account_security.verified_priority: no priority class 'critical'",
        id="undefined-verified-priority",
    ),
    pytest.param(
        lambda d: d["issues"].pop("other"),
        "issues: an issue named 'other' is required (callers who press 0)",
        id="other-issue-missing",
    ),
    pytest.param(
        lambda d: d["directory"].update(file="accounts.yaml"),
        "directory.file: no such file: accounts.yaml",
        id="directory-file-missing",
    ),
    pytest.param(
        lambda d: d["departments"]["payments"].update(hours="ofice"),
        "departments.payments.hours: no opening hours named 'ofice'",
        id="unknown-hours",
    ),
    pytest.param(
        lambda d: d["outbound"].update(countries=["CN", "XX"]),
        "outbound.countries: not a country phonenumbers knows: XX",
        id="outbound-unknown-country",
    ),
    pytest.param(
        lambda d: d["outbound"].update(number_types=["mobile", "premium_rate"]),
        "outbound.number_types.1: Input should be 'mobile' or 'fixed_line'",
        id="outbound-premium-rate-type",
    ),
]


@pytest.mark.parametrize(("change", "expected"), BROKEN)
def test_broken_file_is_refused_with_path_and_reason(
    hotline: HotlineCopy, change: Callable[[dict[str, Any]], object], expected: str
) -> None:
    hotline.edit(change)

    assert_reported(hotline.problems(), expected, hotline.text)


def test_a_language_without_prompts_is_refused(hotline: HotlineCopy) -> None:
    hotline.edit(_french_offered)

    assert hotline.problems() == ["prompts/fr-FR.yaml: missing (language fr-FR is offered)"]


def test_a_language_without_department_names_is_refused(hotline: HotlineCopy) -> None:
    hotline.edit(lambda d: d["languages"].append({"locale": "fr-FR", "digit": "3"}))

    problems = hotline.problems()
    for dept in ("general", "payments", "accounts", "security", "international"):
        assert_reported(problems, f"departments.{dept}.names: no name in fr-FR", hotline.text)
    assert problems[-1] == "prompts/fr-FR.yaml: missing (language fr-FR is offered)"


def test_missing_required_setting_is_reported_on_its_section(hotline: HotlineCopy) -> None:
    hotline.replace('  overflow_number: "+862161234567"', "  # no overflow number")

    line = line_of(hotline.text, "\nhotline:\n") + 1
    assert hotline.problems() == [f"hotline.yaml:{line} hotline.overflow_number: is required"]


def test_deleted_demo_accounts_file_is_reported(hotline: HotlineCopy) -> None:
    (hotline.folder / "demo_accounts.yaml").unlink()

    line = line_of(hotline.text, "  file: demo_accounts.yaml")
    assert hotline.problems() == [f"hotline.yaml:{line} directory.file: no such file: demo_accounts.yaml"]


# --- several problems at once -----------------------------------------------------------------


def test_independent_reference_problems_are_all_reported(hotline: HotlineCopy) -> None:
    def break_three(data: dict[str, Any]) -> None:
        data["issues"]["login"]["department"] = "logins"
        _nodes(data)["login_help"]["options"][1]["next"] = "main_menu"
        data["agents"][0]["departments"]["billing"] = 3

    hotline.edit(break_three)

    problems = hotline.problems()
    assert len(problems) == 3
    assert_reported(problems, "issues.login.department: no department 'logins'", hotline.text)
    assert_reported(
        problems,
        "flow.nodes.login_help.options.1.next: goes to 'main_menu', which is not a node",
        hotline.text,
    )
    assert_reported(problems, "agents.0.departments: no department 'billing'", hotline.text)


def test_independent_field_problems_are_all_reported(hotline: HotlineCopy) -> None:
    def break_four(data: dict[str, Any]) -> None:
        data["hotline"]["timezone"] = "Mars/Olympus"
        data["hours"]["office"]["mon-fri"] = "09:00-25:00"
        data["agents"][1]["reach"] = "wang_wei"
        data["agents"][2]["departments"]["general"] = 0

    hotline.edit(break_four)

    problems = hotline.problems()
    assert len(problems) == 4
    assert_reported(problems, "hotline.timezone: unknown time zone 'Mars/Olympus'", hotline.text)
    assert_reported(problems, "hours.office: '09:00-25:00' has an impossible time", hotline.text)
    assert_reported(
        problems,
        "agents.1.reach: 'wang_wei' is not client:NAME, sip:user@host or a valid number in E.164",
        hotline.text,
    )
    assert_reported(
        problems, "agents.2.departments: skill level of 'general' must be 1..5, not 0", hotline.text
    )


# --- line numbers in the commented file -------------------------------------------------------

LINE_CASES = [
    pytest.param(
        "  timezone: Asia/Shanghai ",
        "  timezone: Asia/Beijing ",
        "hotline.timezone: unknown time zone 'Asia/Beijing'",
        id="timezone",
    ),
    pytest.param(
        "    hours: weekdays\n",
        "    hours: weekday\n",
        "departments.accounts.hours: no opening hours named 'weekday'",
        id="department-hours",
    ),
    pytest.param(
        "  close_account:       {department: accounts}",
        "  close_account:       {department: account}",
        "issues.close_account.department: no department 'account'",
        id="issue-department",
    ),
    pytest.param(
        "          label: label_close_account\n",
        "          label: label_close\n",
        f"flow.nodes.issue_menu.options.7.label: no prompt 'label_close' in {BOTH_PROMPT_FILES}",
        id="option-label",
    ),
    pytest.param(
        "    reach: client:emma_chen",
        '    reach: "12345"',
        "agents.2.reach: '12345' is not client:NAME, sip:user@host or a valid number in E.164",
        id="agent-reach",
    ),
    pytest.param(
        "  max_hold_minutes: 30 ",
        "  max_hold_minute: 30 ",
        "hotline.max_hold_minute: is not a known setting (misspelt?)",
        id="misspelt-key",
    ),
    pytest.param(
        "  - 2026-02-18\n",
        "  - 2026-02-30\n",
        "holidays.3: Input should be a valid date or datetime, day value is outside expected range",
        id="impossible-holiday",
    ),
    pytest.param(
        '  help_url: "https://help.okpay.example/"\n',
        '  help_url: "http://help.okpay.example/"\n',
        "messages.help_url: 'http://help.okpay.example/' is not an https:// link",
        id="sms-link-not-https",
    ),
    pytest.param(
        '  sender: "+862161234500"\n',
        '  sender: "61234500"\n',
        "messages.sender: '61234500' is not a valid phone number in E.164 (+8621...)",
        id="sms-sender",
    ),
]


@pytest.mark.parametrize(("old", "new", "expected"), LINE_CASES)
def test_problem_is_reported_on_the_line_of_its_key(
    hotline: HotlineCopy, old: str, new: str, expected: str
) -> None:
    line = hotline.replace(old, new)

    assert hotline.problems() == [f"hotline.yaml:{line} {expected}"]


def test_menu_target_typo_is_reported_on_its_line_and_orphans_its_node(hotline: HotlineCopy) -> None:
    line = hotline.replace("          next: fees_help\n", "          next: fee_help\n")
    node = line_of(hotline.text, "    fees_help:\n")

    assert hotline.problems() == [
        f"hotline.yaml:{line} flow.nodes.issue_menu.options.6.next: goes to 'fee_help', which is not a node",
        f"hotline.yaml:{node} flow.nodes.fees_help: cannot be reached from the start",
    ]


def test_several_problems_each_on_its_own_line(hotline: HotlineCopy) -> None:
    zone = hotline.replace("  timezone: Asia/Shanghai ", "  timezone: Shanghai ")
    hours = hotline.replace("    hours: weekdays\n", "    hours: weekday\n")
    menu = hotline.replace("          next: login_help\n", "          next: login_hlp\n")
    orphan = line_of(hotline.text, "    login_help:\n")

    with pytest.raises(ConfigError) as caught:
        hotline.load()
    # The field problem (time zone) comes first; references are checked once fields are valid.
    assert caught.value.problems == [f"hotline.yaml:{zone} hotline.timezone: unknown time zone 'Shanghai'"]

    hotline.replace("  timezone: Shanghai ", "  timezone: Asia/Shanghai ")
    assert hotline.problems() == [
        f"hotline.yaml:{hours} departments.accounts.hours: no opening hours named 'weekday'",
        f"hotline.yaml:{menu} flow.nodes.issue_menu.options.4.next: goes to 'login_hlp', which is not a node",
        f"hotline.yaml:{orphan} flow.nodes.login_help: cannot be reached from the start",
    ]


def test_invalid_yaml_syntax_reports_its_line(hotline: HotlineCopy) -> None:
    line = hotline.replace("  gather_timeout_seconds: 6 ", "  gather_timeout_seconds: 6: ")

    problems = hotline.problems()
    assert len(problems) == 1
    assert problems[0].startswith(f"hotline.yaml:{line}: not valid YAML: ")
    assert "mapping values are not allowed here" in problems[0]


def test_a_file_that_is_not_a_mapping_is_refused(hotline: HotlineCopy) -> None:
    hotline.path.write_text("- just\n- a list\n", encoding="utf-8")

    assert hotline.problems() == ["hotline.yaml:1: the file must be a mapping of sections"]


# --- the prompt catalogue ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "prompt_id",
    ["label_refund", "goodbye"],  # referenced by the hotline file / said by the code
)
def test_prompt_missing_in_one_language(hotline: HotlineCopy, prompts_copy: Path, prompt_id: str) -> None:
    english = prompts_copy / "en-US.yaml"
    lines = english.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith(f"  {prompt_id}:")]
    assert len(kept) == len(lines) - 1
    english.write_text("".join(kept), encoding="utf-8")

    assert hotline.load().locales == ["zh-CN", "en-US"]  # the shipped catalogue is still used by default
    assert hotline.problems(prompts_copy) == [f"prompts/en-US.yaml: prompt {prompt_id!r} is missing"]


def test_prompt_only_in_one_language(hotline: HotlineCopy, prompts_copy: Path) -> None:
    chinese = prompts_copy / "zh-CN.yaml"
    data = yaml.safe_load(chinese.read_text(encoding="utf-8"))
    data["prompts"]["holiday_notice"] = "今天是节假日。"
    chinese.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")

    assert hotline.problems(prompts_copy) == ["prompts/en-US.yaml: prompt 'holiday_notice' is missing"]


def test_placeholders_differing_between_languages(hotline: HotlineCopy, prompts_copy: Path) -> None:
    english = prompts_copy / "en-US.yaml"
    text = english.read_text(encoding="utf-8")
    old = "  welcome: Welcome to the {name} customer hotline."
    assert text.count(old) == 1
    english.write_text(text.replace(old, "  welcome: Welcome to the {company} customer hotline."), "utf-8")

    assert hotline.problems(prompts_copy) == [
        "prompt 'welcome': placeholders differ between languages (zh-CN ['name'], en-US ['company'])"
    ]


# --- process settings -------------------------------------------------------------------------


def _settings_error(environ: dict[str, str]) -> str:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(environ)
    return str(caught.value)


def test_valid_settings(hotline: HotlineCopy) -> None:
    settings = Settings.from_env(
        {
            **VALID_ENV,
            "PUBLIC_BASE_URL": "https://hotline.example.com/",
            "REDIS_URL": "rediss://cache.example.com:6380/0",
            "HOTLINE_CONFIG": str(hotline.path),
        }
    )

    assert settings.twilio_account_sid == VALID_ENV["TWILIO_ACCOUNT_SID"]
    assert settings.public_base_url == "https://hotline.example.com"
    assert settings.redis_url == "rediss://cache.example.com:6380/0"
    assert settings.hotline_config == hotline.path


def test_missing_token_and_malformed_sid_are_reported_together() -> None:
    message = _settings_error({"TWILIO_ACCOUNT_SID": "AC" + "g" * 32, "TWILIO_AUTH_TOKEN": ""})

    assert message == (
        "invalid settings:\n"
        "  TWILIO_ACCOUNT_SID: must be 'AC' followed by 32 hexadecimal digits\n"
        "  TWILIO_AUTH_TOKEN: must be set"
    )


def test_short_sid_and_missing_token_are_reported_together() -> None:
    message = _settings_error({"TWILIO_ACCOUNT_SID": "AC123"})

    assert message == (
        "invalid settings:\n"
        "  TWILIO_ACCOUNT_SID: String should have at least 34 characters\n"
        "  TWILIO_AUTH_TOKEN: must be set"
    )


@pytest.mark.parametrize("url", ["hotline.example.com", "ftp://hotline.example.com", "https://"])
def test_bad_public_base_url(url: str) -> None:
    assert _settings_error({**VALID_ENV, "PUBLIC_BASE_URL": url}) == (
        "invalid settings:\n  PUBLIC_BASE_URL: must be an http(s) URL such as https://hotline.example.com"
    )


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379/0", "127.0.0.1:6379", "memcached://localhost"])
def test_bad_redis_url_scheme(url: str) -> None:
    assert _settings_error({**VALID_ENV, "REDIS_URL": url}) == (
        "invalid settings:\n  REDIS_URL: must start with redis://, rediss://, unix:// or redis+sentinel://"
    )


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        (
            "redis+sentinel:///hotline",
            "names no sentinel: redis+sentinel://host:26379,host2:26379/mymaster/0",
        ),
        ("redis+sentinel://s1:26379,s2:x/hotline", "sentinel 's2:x' is not host:port"),
        ("redis+sentinel://s1:26379", "must name the service and optionally the database: …/mymaster/0"),
        ("redis+sentinel://s1/hotline/one", "database must be a number, not 'one'"),
        ("redis+sentinel://s1/hotline?password=x", "unknown option 'password' (only sentinel_password)"),
    ],
)
def test_bad_sentinel_url(url: str, problem: str) -> None:
    assert _settings_error({**VALID_ENV, "REDIS_URL": url}) == f"invalid settings:\n  REDIS_URL: {problem}"


def test_sentinel_url_names_the_service_its_sentinels_and_credentials() -> None:
    url = "redis+sentinel://:s3cret@10.0.0.1,10.0.0.2:26380,[::1]:26381/hotline/2?sentinel_password=pw"
    settings = Settings.from_env({**VALID_ENV, "REDIS_URL": url})
    service = parse_sentinel_url(settings.redis_url or "")
    assert service.sentinels == (("10.0.0.1", 26379), ("10.0.0.2", 26380), ("::1", 26381))
    assert (service.service, service.db, service.password, service.sentinel_password) == (
        "hotline",
        2,
        "s3cret",
        "pw",
    )
    assert "s3cret" not in service.describe() and "pw" not in service.describe()


def test_hotline_config_pointing_to_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "hotline-prod.yaml"

    assert _settings_error({**VALID_ENV, "HOTLINE_CONFIG": str(missing)}) == (
        f"invalid settings:\n  HOTLINE_CONFIG: no such file: {missing}"
    )


# --- the app refuses to start -----------------------------------------------------------------


def _start_app(hotline: HotlineCopy) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TWILIO_", "HOTLINE_", "REDIS_", "PUBLIC_BASE_URL"))
    }
    env.update(
        VALID_ENV,
        HOTLINE_CONFIG=str(hotline.path),
        HOTLINE_DATA_DIR=str(hotline.folder / "data"),
        REDIS_URL="redis://127.0.0.1:6379/13",
    )
    return subprocess.run(
        [sys.executable, "-c", "import ivr.app, ivr.settings; ivr.app.create_app()"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_app_refuses_to_start_with_a_broken_file(hotline: HotlineCopy) -> None:
    hours = hotline.replace("    hours: weekdays\n", "    hours: weekday\n")
    menu = hotline.replace("          next: fees_help\n", "          next: fee_help\n")

    result = _start_app(hotline)

    assert result.returncode != 0
    assert "ConfigError" in result.stderr
    assert f"{hotline.path}: 3 problem(s), the hotline will not start:" in result.stderr
    assert (
        f"hotline.yaml:{hours} departments.accounts.hours: no opening hours named 'weekday'" in result.stderr
    )
    assert (
        f"hotline.yaml:{menu} flow.nodes.issue_menu.options.6.next: goes to 'fee_help', which is not a node"
        in result.stderr
    )


def test_app_refuses_to_start_with_invalid_yaml(hotline: HotlineCopy) -> None:
    line = hotline.replace("  max_tries: 3 ", "  max_tries: 3: ")

    result = _start_app(hotline)

    assert result.returncode != 0
    assert f"hotline.yaml:{line}: not valid YAML: mapping values are not allowed here" in result.stderr


def test_a_key_written_twice_is_refused(tmp_path: Path) -> None:
    """YAML lets the second of two equal keys win silently; the hotline refuses the file."""
    text = (ROOT / "hotline.yaml").read_text(encoding="utf-8")
    text = text.replace("  max_tries: 3 ", "  max_tries: 3\n  max_tries: 5 ", 1)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if row.startswith("  max_tries: 5"))
    (tmp_path / "demo_accounts.yaml").write_text((ROOT / "demo_accounts.yaml").read_text(encoding="utf-8"))
    path = tmp_path / "hotline.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_hotline(path)
    assert caught.value.problems == [f"hotline.yaml:{line} hotline.max_tries: is given twice"]


def test_every_node_kind_has_a_handler_and_a_line_in_the_hotline_file() -> None:
    """A node kind is one row of the registry, one step handler, one line of the file's comment."""
    from ivr.hotline.nodes import KINDS
    from ivr.voice.steps import STEPS

    assert set(STEPS) == set(KINDS)
    comment = Path("hotline.yaml").read_text(encoding="utf-8").split("\nflow:")[0]
    for kind in KINDS:
        assert f"#   {kind} " in comment, kind
