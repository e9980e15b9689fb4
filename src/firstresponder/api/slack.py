"""`/incident` slash commands and the Acknowledge button, from Slack.

Every request's `X-Slack-Signature` is checked first (slack_sdk's verifier, five-minute
replay window). Slack wants an answer within 3 seconds: the change itself is one quick
transaction (what it sets off in Slack and PagerDuty goes through the outbox, after the
answer); should the store be slow, the answer says the command was accepted and the
change finishes in the background. Answers to a person are ephemeral (only they see
them); what changed is posted in the incident channel by the outbox.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web

from ..domain.incident import Incident, TimelineEntry, TransitionError
from ..domain.storable import storable_map
from ..domain.vocabulary import Impact
from ..errors import ConflictError, NotFoundError
from ..slack import blocks as b
from ..slack import commands as c
from ..slack.messages import IMPACT_WORDS, commander, tech_lead
from ..slack.notices import SLACK
from ..slack.signature import SignatureError, verify
from ..store.ports import IncidentFilter
from .keys import COMMANDS, CONFIG, STORE

log = logging.getLogger(__name__)
ANSWER_WITHIN_S = 2.0  # Slack gives up after 3 s
DEFAULT_IMPACT = Impact.DEGRADED
STATUS_LIMIT = 10
_background: set[asyncio.Task[Any]] = set()


async def slack_commands(request: web.Request) -> web.StreamResponse:
    form = await _verified_form(request)
    user = form.get("user_id", "") or "someone"
    channel_incident = await _incident_of_channel(request, form.get("channel_id", ""))
    try:
        command = c.parse_command(form.get("text", ""), channel_incident)
    except c.CommandError as exc:
        return _ephemeral(str(exc))
    answer = await _within(_run(request, command, user))
    if answer is None:
        return _ephemeral("Accepted; the incident channel will show the change.")
    return _ephemeral(answer)


async def slack_interactions(request: web.Request) -> web.StreamResponse:
    form = await _verified_form(request)
    try:
        press = c.parse_interaction(form.get("payload", ""))
    except c.InteractionError as exc:
        log.info("slack interaction ignored", extra={"reason": str(exc)})
        return web.Response(status=200)
    answer = await _within(_acknowledge(request, press.incident_id, press.user_id))
    log.info(
        "slack acknowledge button",
        extra={"incident_id": press.incident_id, "user": press.user_id, "answer": answer},
    )
    return web.Response(status=200)


async def _verified_form(request: web.Request) -> dict[str, str]:
    secret = request.app[CONFIG].slack.signing_secret
    if not request.app[CONFIG].slack.enabled or not secret:
        raise NotFoundError("Slack commands are not configured (slack.signing_secret)")
    body = await request.read()
    try:
        verify(secret, dict(request.headers), body, datetime.now(UTC))
    except SignatureError as exc:
        log.warning("Slack request refused", extra={"reason": str(exc)})
        raise web.HTTPUnauthorized(
            text=json.dumps({"error": str(exc)}), content_type="application/json"
        ) from None
    # Slack's own requests are never refused for their text (a person would see only
    # "http_client_error"): a NUL, or percent-escaped bytes that are not UTF-8, become U+FFFD
    # (`verify` has refused a body that is not UTF-8 itself).
    parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True)
    return storable_map({key: values[0] for key, values in parsed.items() if values})


async def _incident_of_channel(request: web.Request, channel_id: str) -> int | None:
    if not channel_id:
        return None
    return await request.app[STORE].transact(lambda uow: uow.reference_of(SLACK, f"{channel_id}|"))


async def _within(work: Awaitable[str]) -> str | None:
    """The answer if it comes in time; None if not (the work goes on in the background)."""
    task = asyncio.ensure_future(work)
    done, _ = await asyncio.wait({task}, timeout=ANSWER_WITHIN_S)
    if done:
        return task.result()
    _background.add(task)
    task.add_done_callback(_finished_late)
    return None


def _finished_late(task: asyncio.Task[Any]) -> None:
    _background.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.error("slack command failed after answering", exc_info=task.exception())


async def _run(request: web.Request, command: c.Command, user: str) -> str:
    if isinstance(command, c.ShowHelp):
        return c.HELP
    if isinstance(command, c.ShowStatus):
        return await _status(request, command.incident_id)
    if isinstance(command, c.Declare):
        return await _declare(request, command, user)
    if isinstance(command, c.Acknowledge):
        return await _acknowledge(request, command.incident_id, user)
    change, what = _change(command, user)
    return await _apply(request, command.incident_id, change, what)


async def _declare(request: web.Request, command: c.Declare, user: str) -> str:
    try:
        incident = await request.app[COMMANDS].declare(
            service=command.service,
            title=command.title,
            impact=command.impact or DEFAULT_IMPACT,
            severity=None,
            description="",
            labels={},
            actor=user,
        )
    except ConflictError as exc:  # one open incident per service: point at it
        return f"Not declared: {exc}"
    return (
        f"Incident #{incident.id} declared on {incident.service}: "
        f"{IMPACT_WORDS[incident.impact]}, {incident.severity.value}."
    )


Change = Callable[[Incident, datetime], list[TimelineEntry]]


def _change(command: c.Command, user: str) -> tuple[Change, str]:
    if isinstance(command, c.SetState):
        state = command.state
        return lambda i, now: i.set_state(state, user, now), f"state {state.value}"
    if isinstance(command, c.SetSeverity):
        severity = command.severity
        return lambda i, now: i.set_severity(severity, user, now), f"severity {severity.value}"
    if isinstance(command, c.AssignRole):
        role, person = command.role, command.person
        return (
            lambda i, now: i.assign_role(role, person, user, now),
            f"{role.value.upper()} {b.mention(person)}",
        )
    if isinstance(command, c.AddNote):
        text = command.text
        return lambda i, now: i.add_note(text, user, now), "note added"
    raise AssertionError(f"unhandled command {command!r}")  # parse_command makes no other


async def _acknowledge(request: web.Request, incident_id: int, user: str) -> str:
    return await _apply(
        request, incident_id, lambda i, now: i.acknowledge(user, now), "acknowledged"
    )


async def _apply(request: web.Request, incident_id: int, change: Change, what: str) -> str:
    try:
        _, entries = await request.app[COMMANDS].change(incident_id, change)
    except NotFoundError:
        return f"Incident #{incident_id} does not exist."
    except (TransitionError, ConflictError) as exc:
        return f"Incident #{incident_id}: {exc}"
    if not entries:
        return f"Incident #{incident_id}: nothing to change ({what} already)."
    return f"Incident #{incident_id}: {what}."


async def _status(request: web.Request, incident_id: int | None) -> str:
    store = request.app[STORE]
    if incident_id is not None:
        try:
            return _status_line(await store.get_incident(incident_id))
        except NotFoundError:
            return f"Incident #{incident_id} does not exist."
    found = await store.list_incidents(IncidentFilter(open_only=True, limit=STATUS_LIMIT))
    if not found:
        return "No open incidents."
    return "\n".join(_status_line(incident) for incident in found)


def _status_line(incident: Incident) -> str:
    ack = (
        f"acknowledged by {b.mention(incident.acknowledged_by or '?')}"
        if incident.acknowledged_at
        else "*not acknowledged*"
    )
    return (
        f"#{incident.id} {incident.severity.value} {incident.service}: "
        f"{b.escape(b.one_line(incident.title))} · {IMPACT_WORDS[incident.impact]} · "
        f"{incident.state.value} · {ack} · IC {commander(incident)} · "
        f"lead {tech_lead(incident)} · {incident.firing_count} alert(s) firing"
    )


def _ephemeral(text: str) -> web.Response:
    return web.json_response({"response_type": "ephemeral", "text": text})
