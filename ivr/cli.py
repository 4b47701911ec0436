"""Admin commands: `flask --app wsgi agents add|list|force`, `tokens issue|revoke`, and `erase`.

An agent added here lives in Redis (the hotline file's agents are loaded at every start too);
it is checked by the same rules as the file: the `Agent` model of the hotline file's schema,
then its departments and languages against the file's.
"""

from __future__ import annotations

import getpass
import logging
from typing import Any

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext
from pydantic import ValidationError

from ivr.api.auth import ROLES, issue_token, revoke
from ivr.api.supervisor import supervision
from ivr.callcenter.agents import StateConflict
from ivr.callcenter.erasure import erase
from ivr.callcenter.supervision import FORCEABLE
from ivr.digits import whole_number
from ivr.hotline.schema import Agent as AgentSpec
from ivr.phones import is_valid_e164
from ivr.services import services

audit = logging.getLogger("ivr.audit")
agents_cli = AppGroup("agents", help="Add, list and force the state of agents.")
tokens_cli = AppGroup("tokens", help="Issue and revoke API tokens.")


def _skills(pairs: tuple[str, ...]) -> dict[str, Any]:
    """'payments:5' -> {'payments': 5}; the level is checked by the schema."""
    skills: dict[str, Any] = {}
    for pair in pairs:
        name, sep, level = pair.partition(":")
        if not sep or whole_number(level.strip()) is None:
            raise click.BadParameter(
                f"{pair!r}: write DEPARTMENT:LEVEL, e.g. payments:5", param_hint="--department"
            )
        skills[name.strip()] = int(level.strip())
    return skills


@agents_cli.command("add")
@click.option("--id", "agent_id", required=True, help="e.g. zhao_lei")
@click.option("--name", required=True)
@click.option(
    "--department", "departments", multiple=True, required=True, help="DEPT:LEVEL (1-5), repeatable"
)
@click.option(
    "--language", "languages", multiple=True, required=True, help="a locale such as zh-CN, repeatable"
)
@click.option("--reach", required=True, help="client:NAME, sip:user@host or an E.164 number")
def add_agent(
    agent_id: str, name: str, departments: tuple[str, ...], languages: tuple[str, ...], reach: str
) -> None:
    """Add an agent, or update one (a live agent's state is kept)."""
    hotline = services()
    try:
        spec = AgentSpec(
            id=agent_id, name=name, departments=_skills(departments), languages=list(languages), reach=reach
        )
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        ]
        raise click.ClickException("invalid agent:\n  " + "\n  ".join(problems)) from None
    cfg = hotline.config
    problems = [f"no department {d!r}" for d in spec.departments if d not in cfg.file.departments]
    problems += [f"{loc} is not an offered language" for loc in spec.languages if loc not in cfg.locales]
    if problems:
        raise click.ClickException("invalid agent:\n  " + "\n  ".join(problems))
    hotline.agents.upsert(spec, hotline.clock.now())
    click.echo(f"agent {spec.id} saved")


@agents_cli.command("list")
def list_agents() -> None:
    """Every agent: id, state, departments with levels, languages, reach."""
    for agent in services().agents.all():
        skills = ",".join(f"{d}:{level}" for d, level in sorted(agent.departments.items()))
        click.echo(
            f"{agent.id}\t{agent.name}\t{agent.state}\t{skills}\t{','.join(agent.languages)}\t{agent.reach}"
        )


@agents_cli.command("force")
@click.argument("agent_id")
@click.argument("state", type=click.Choice([str(s) for s in FORCEABLE]))
@click.option("--reason", default="", help="why the agent is not ready (needed with not_ready)")
def force_agent(agent_id: str, state: str, reason: str) -> None:
    """Set an agent's state from any state; a ringing agent's caller goes back to their place."""
    hotline = services()
    who = f"cli:{getpass.getuser()}"
    try:
        forced = supervision(hotline).force(agent_id, state, hotline.clock.now(), reason=reason, by=who)
    except (LookupError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    except StateConflict as exc:
        raise click.ClickException(f"{exc} (nothing changed)") from None
    told = {"requeued": "; the caller is back at their place in the queue",
            "callback_requeued": "; the callback's place is back in the queue",
            "finished": "; the agent's part of the call ended"}  # fmt: skip
    click.echo(f"agent {agent_id}: {forced.previous} -> {forced.state}{told.get(forced.caller, '')}")


@tokens_cli.command("issue")
@click.argument("role", type=click.Choice(ROLES))
@click.argument("subject")
def issue(role: str, subject: str) -> None:
    """Print a new token for an agent (by id) or a supervisor (by name); it is shown only once."""
    hotline = services()
    if role == "agent" and hotline.agents.get(subject) is None:
        raise click.ClickException(f"no agent {subject!r} (add it with `agents add` first)")
    try:
        token = issue_token(hotline.stores.data, role, subject)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(token)


@tokens_cli.command("revoke")
@click.argument("token")
def revoke_token(token: str) -> None:
    """Make a token unusable."""
    if not revoke(services().stores.data, token):
        raise click.ClickException("no such token (already revoked?)")
    click.echo("revoked")


@click.command("erase")
@with_appcontext
@click.option("--number", default="", help="the caller's phone number (E.164, +86...)")
@click.option("--account", default="", help="the account identifier")
def erase_command(number: str, account: str) -> None:
    """Remove everything the hotline keeps about a phone number or an account, and say what."""
    if bool(number) == bool(account):
        raise click.ClickException("give --number or --account (one of them)")
    if number and not is_valid_e164(number):
        raise click.ClickException(f"{number!r} is not a phone number in E.164 (+86...)")
    hotline = services()
    done = erase(
        hotline.stores.data,
        hotline.queues,
        hotline.rest,
        list(hotline.config.file.departments),
        number=number,
        account=account,
    )
    click.echo(f"erased {'number ' + number if number else 'account ' + account}:")
    for line in done.lines():
        click.echo(f"  {line}")
    audit.info("erasure of %s: %d call records, %d recordings", "a number" if number else "an account",
               len(done.calls), len(done.recordings))  # fmt: skip
    if done.recordings_kept:
        raise click.ClickException("some recordings could not be deleted now: run the command again")


def register_cli(app: Flask) -> None:
    """Add the admin commands to `flask --app wsgi ...`."""
    app.cli.add_command(agents_cli)
    app.cli.add_command(tokens_cli)
    app.cli.add_command(erase_command)
