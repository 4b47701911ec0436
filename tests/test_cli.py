"""The admin command line: adding and listing agents, issuing and revoking API tokens."""

from __future__ import annotations

import hashlib

import pytest
import redis
from click.testing import Result
from flask import Flask

from ivr import keys
from ivr.callcenter.agents import OFFLINE, READY
from ivr.services import services_of

ZHAO_LEI = [
    "agents", "add", "--id", "zhao_lei", "--name", "赵磊", "--department", "payments:4",
    "--department", "security:2", "--language", "zh-CN", "--reach", "+8613800001111",
]  # fmt: skip


def run(app: Flask, *args: str) -> Result:
    """`flask --app wsgi <args>`, in-process."""
    return app.test_cli_runner().invoke(args=list(args))


def test_add_an_agent_and_list_them(app: Flask) -> None:
    """The agent is stored with skills, languages and reach, offline; updating keeps their state."""
    result = run(app, *ZHAO_LEI)
    assert result.exit_code == 0, result.output
    agent = services_of(app).agents.get("zhao_lei")
    assert agent is not None and agent.departments == {"payments": 4, "security": 2}
    assert (agent.name, agent.languages, agent.reach, agent.state) == (
        "赵磊",
        ["zh-CN"],
        "+8613800001111",
        OFFLINE,
    )
    hotline = services_of(app)
    hotline.agents.choose("zhao_lei", READY, hotline.clock.now())
    assert run(app, *ZHAO_LEI[:-1], "client:zhao_lei").exit_code == 0
    agent = hotline.agents.get("zhao_lei")
    assert agent.reach == "client:zhao_lei" and agent.state == READY
    listing = run(app, "agents", "list").output.splitlines()
    assert [line.split("\t")[0] for line in listing] == ["emma_chen", "li_na", "wang_wei", "zhao_lei"]
    assert "zhao_lei\t赵磊\tready\tpayments:4,security:2\tzh-CN\tclient:zhao_lei" in listing


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--reach", "+86123", "is not client:NAME, sip:user@host or a valid number in E.164"),
        ("--reach", "li_na", "is not client:NAME"),
        ("--reach", "sip:nobody", "is not client:NAME"),
        ("--department", "payments", "write DEPARTMENT:LEVEL"),
        ("--department", "payments:7", "skill level of 'payments' must be 1..5"),
        ("--department", "marketing:3", "no department 'marketing'"),
        ("--language", "fr-FR", "fr-FR is not an offered language"),
        ("--language", "chinese", "languages.0"),
        ("--id", "Zhao Lei", "id:"),
    ],
)
def test_an_invalid_agent_is_refused(app: Flask, option: str, value: str, message: str) -> None:
    """The hotline file's rules: the reach is checked with phonenumbers, skills 1..5, known names."""
    args = list(ZHAO_LEI)
    where = args.index(option)
    args[where + 1] = value
    result = run(app, *args)
    assert result.exit_code != 0
    assert message in result.output
    assert services_of(app).agents.get("zhao_lei") is None


def test_issue_use_and_revoke_tokens(app: Flask, redis_conn: redis.Redis) -> None:
    """A token is printed once, works for its role, is stored only as a hash, and can be revoked."""
    result = run(app, "tokens", "issue", "agent", "li_na")
    assert result.exit_code == 0
    token = result.output.strip()
    client = app.test_client()
    me = client.get("/api/agent/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.get_json()["id"] == "li_na"
    stored = {k: redis_conn.get(k) for k in redis_conn.keys("hl:token:*")}
    assert stored == {keys.api_token(hashlib.sha256(token.encode()).hexdigest()): "agent:li_na"}
    assert not any(token in k or token in v for k, v in stored.items())

    boss = run(app, "tokens", "issue", "supervisor", "zhang_min").output.strip()
    queues = client.get("/api/supervisor/queues", headers={"Authorization": f"Bearer {boss}"})
    assert queues.status_code == 200

    assert run(app, "tokens", "revoke", token).output.strip() == "revoked"
    assert client.get("/api/agent/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    again = run(app, "tokens", "revoke", token)
    assert again.exit_code != 0 and "no such token" in again.output


def test_tokens_only_for_known_agents_and_roles(app: Flask, redis_conn: redis.Redis) -> None:
    """No token for an agent who does not exist, nor for a role the API does not have."""
    nobody = run(app, "tokens", "issue", "agent", "nobody")
    assert nobody.exit_code != 0 and "no agent 'nobody'" in nobody.output
    admin = run(app, "tokens", "issue", "admin", "root")
    assert admin.exit_code != 0 and "'admin' is not one of 'agent', 'supervisor'" in admin.output
    assert redis_conn.keys("hl:token:*") == []
