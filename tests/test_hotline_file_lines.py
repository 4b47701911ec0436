"""A problem in the hotline file is reported on the line where its key is written, in the
commented file as operators edit it (not a re-dumped copy).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.hotline.loader import ConfigError
from tests.hotline_copies import BOTH_PROMPT_FILES, HotlineCopy, line_of


@pytest.fixture
def hotline(tmp_path: Path) -> HotlineCopy:
    """A scratch copy of hotline.yaml and demo_accounts.yaml to break."""
    return HotlineCopy.of_shipped(tmp_path)


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
