"""The hotline file is checked whole before anything starts.

Each broken file must be refused with a problem that names the file, the line, the path in the
file and a reason an operator can act on. The assertions compare the exact reported text. The
line of each problem: tests/test_hotline_file_lines.py; the prompt catalogue:
tests/test_prompt_catalogue.py; the process settings: tests/test_settings.py; the app that
refuses to start: tests/test_refused_start.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ivr.hotline.loader import ConfigError, load_hotline
from tests.hotline_copies import BOTH_PROMPT_FILES, ROOT, SHIPPED, HotlineCopy, assert_reported, line_of

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


@pytest.fixture
def hotline(tmp_path: Path) -> HotlineCopy:
    """A scratch copy of hotline.yaml and demo_accounts.yaml to break."""
    return HotlineCopy.of_shipped(tmp_path)


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


def test_invalid_yaml_syntax_reports_its_line(hotline: HotlineCopy) -> None:
    line = hotline.replace("  gather_timeout_seconds: 6 ", "  gather_timeout_seconds: 6: ")

    problems = hotline.problems()
    assert len(problems) == 1
    assert problems[0].startswith(f"hotline.yaml:{line}: not valid YAML: ")
    assert "mapping values are not allowed here" in problems[0]


def test_a_file_that_is_not_a_mapping_is_refused(hotline: HotlineCopy) -> None:
    hotline.path.write_text("- just\n- a list\n", encoding="utf-8")

    assert hotline.problems() == ["hotline.yaml:1: the file must be a mapping of sections"]


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
