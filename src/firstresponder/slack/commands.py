"""`/incident …` slash commands and the Acknowledge button, parsed into plain values.

Pure: the caller looks up which incident the command's channel belongs to and passes it
in (`channel_incident`); `#123` as the first argument (before or right after the verb)
names one explicitly and wins. Anything that cannot be understood raises CommandError,
whose message says what was wrong followed by the help text, ready to show to the user.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..domain.storable import storable
from ..domain.vocabulary import Impact, IncidentState, Role, Severity
from .messages import ACK_ACTION_ID

HELP = """\
Usage: /incident [#ID] <command>
  declare <service> <title…> [--impact outage|partial_disruption|degraded]
  ack                                   acknowledge (you become EOC if there is none)
  state investigating|identified|monitoring|resolved
  severity S1|S2|S3|S4
  role eoc|imoc|cmoc|lead|scribe @someone
  note <text>                           add to the timeline
  status                                where the incident stands
  help
Typed in an incident's channel, commands act on that incident; elsewhere name it: #42."""

DECLARABLE = (Impact.OUTAGE, Impact.PARTIAL_DISRUPTION, Impact.DEGRADED)
ROLE_NAMES: Mapping[str, Role] = {
    **{role.value: role for role in Role},
    "ic": Role.IMOC,
    "commander": Role.IMOC,
    "comms": Role.CMOC,
    "tl": Role.LEAD,
    "techlead": Role.LEAD,
    "tech-lead": Role.LEAD,
}
MAX_ID_DIGITS = 18  # an incident id fits a BIGINT
_INCIDENT_REF = re.compile(r"#(\d{1,18})")
_WORD = re.compile(r"\s*(\S*)\s*(.*)", re.DOTALL)
_USER_ESCAPE = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


class CommandError(ValueError):
    """The message is what was wrong, then the help text."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"{problem}\n\n{HELP}")
        self.problem = problem


class InteractionError(ValueError):
    """An interaction payload firstresponder does not handle; the message says why."""


@dataclass(frozen=True)
class Declare:
    service: str
    title: str
    impact: Impact | None = None  # None: the caller's default


@dataclass(frozen=True)
class Acknowledge:
    incident_id: int


@dataclass(frozen=True)
class SetState:
    incident_id: int
    state: IncidentState


@dataclass(frozen=True)
class SetSeverity:
    incident_id: int
    severity: Severity


@dataclass(frozen=True)
class AssignRole:
    incident_id: int
    role: Role
    person: str  # a Slack user id ("U123") when Slack sent a mention, else the name typed


@dataclass(frozen=True)
class AddNote:
    incident_id: int
    text: str


@dataclass(frozen=True)
class ShowStatus:
    incident_id: int | None  # None: typed outside an incident channel, show all open ones


@dataclass(frozen=True)
class ShowHelp:
    pass


Command = (
    Declare | Acknowledge | SetState | SetSeverity | AssignRole | AddNote | ShowStatus | ShowHelp
)


@dataclass(frozen=True)
class ButtonPress:
    incident_id: int
    user_id: str
    user_name: str
    response_url: str
    channel_id: str = ""


def parse_command(text: str, channel_incident: int | None = None) -> Command:
    """`text` as Slack sends it after `/incident` (mentions escaped, `&<>` as entities)."""
    explicit, rest = _leading_reference(text.strip())
    verb, rest = _first_word(rest)
    if explicit is None:
        explicit, rest = _leading_reference(rest)
    incident = explicit if explicit is not None else channel_incident
    verb = verb.lower() or "help"
    if verb == "declare":
        if explicit is not None:
            raise CommandError("declare starts a new incident; it takes no #ID")
        return _declare(rest.split())
    if verb in ("help", "?"):
        return ShowHelp()
    if verb == "status":
        return ShowStatus(incident)
    parse = _PARSERS.get(verb)
    if parse is None:
        raise CommandError(f"unknown command {verb!r}")
    if incident is None:
        raise CommandError(
            f"which incident? Type /incident {verb} in the incident's channel, "
            f"or name it: /incident #42 {verb}"
        )
    return parse(incident, rest)


def parse_interaction(payload_form_value: str) -> ButtonPress:
    """The `payload` form field of a POST to the interactions URL: the Acknowledge button."""
    try:
        payload = json.loads(payload_form_value)
    except ValueError as exc:
        raise InteractionError(f"payload is not JSON: {exc}") from None
    except RecursionError:
        raise InteractionError("payload is nested too deeply") from None
    if not isinstance(payload, dict):
        raise InteractionError("payload is not a JSON object")
    kind = payload.get("type")
    if kind != "block_actions":
        raise InteractionError(f"interaction type {kind!r} is not handled (only block_actions)")
    actions = payload.get("actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
        raise InteractionError("block_actions payload has no actions")
    action = actions[0]
    if action.get("action_id") != ACK_ACTION_ID:
        raise InteractionError(f"action {action.get('action_id')!r} is not handled")
    value = str(action.get("value", ""))
    if not (value.isascii() and value.isdigit() and len(value) <= MAX_ID_DIGITS):
        raise InteractionError(f"action value {value!r} is not an incident id")
    user = payload.get("user")
    if not isinstance(user, dict) or not user.get("id"):
        raise InteractionError("payload has no user.id")
    channel = payload.get("channel")
    return ButtonPress(  # the text made storable, as the form's (api/slack.py)
        incident_id=int(value),
        user_id=storable(str(user["id"])),
        user_name=storable(str(user.get("username") or user.get("name") or user["id"])),
        response_url=storable(str(payload.get("response_url") or "")),
        channel_id=storable(str(channel.get("id", ""))) if isinstance(channel, dict) else "",
    )


def _first_word(text: str) -> tuple[str, str]:
    """The first word and the rest, its inner line breaks and spacing kept (for notes)."""
    found = _WORD.match(text)
    return (found.group(1), found.group(2).rstrip()) if found else ("", "")


def _leading_reference(text: str) -> tuple[int | None, str]:
    """`#123` at the start of `text`, and what follows it."""
    word, rest = _first_word(text)
    found = _INCIDENT_REF.fullmatch(word)
    return (int(found.group(1)), rest) if found else (None, text)


def _declare(words: list[str]) -> Declare:
    impact: Impact | None = None
    rest: list[str] = []
    tokens = iter(words)
    for word in tokens:
        option, has_value, value = word.partition("=")
        if option == "--impact":
            impact = _impact(value if has_value else next(tokens, ""))
        elif word.startswith("--"):
            raise CommandError(f"unknown option {option!r} (declare takes --impact)")
        else:
            rest.append(word)
    if not rest:
        raise CommandError("declare needs a service and a title")
    service, title = rest[0], _unescape(" ".join(rest[1:]))
    if not title:
        raise CommandError(f"declare needs a title after the service ({service})")
    return Declare(service=_unescape(service), title=title, impact=impact)


def _impact(value: str) -> Impact:
    names = "|".join(impact.value for impact in DECLARABLE)
    if not value:
        raise CommandError(f"--impact needs a value: {names}")
    try:
        impact = Impact.parse(value)
    except ValueError:
        raise CommandError(f"unknown impact {value!r}: use {names}") from None
    if impact not in DECLARABLE:
        raise CommandError(f"impact {value!r} is not an incident: use {names}")
    return impact


def _ack(incident: int, rest: str) -> Command:
    if rest:
        raise CommandError(f"ack takes no arguments (got {rest!r})")
    return Acknowledge(incident)


def _state(incident: int, rest: str) -> Command:
    words = rest.split()
    names = "|".join(state.value for state in IncidentState)
    if len(words) != 1:
        raise CommandError(f"state needs one of {names}")
    try:
        return SetState(incident, IncidentState(words[0].lower()))
    except ValueError:
        raise CommandError(f"unknown state {words[0]!r}: use {names}") from None


def _severity(incident: int, rest: str) -> Command:
    words = rest.split()
    if len(words) != 1:
        raise CommandError("severity needs one of S1|S2|S3|S4")
    try:
        return SetSeverity(incident, Severity.parse(words[0]))
    except ValueError:
        raise CommandError(f"unknown severity {words[0]!r}: use S1|S2|S3|S4") from None


def _role(incident: int, rest: str) -> Command:
    words = rest.split()
    names = "|".join(role.value for role in Role)
    if len(words) < 2:
        raise CommandError(f"role needs a role ({names}) and a person")
    role = ROLE_NAMES.get(words[0].lower())
    if role is None:
        raise CommandError(f"unknown role {words[0]!r}: use {names}")
    return AssignRole(incident, role, _person(" ".join(words[1:])))


def _person(text: str) -> str:
    if found := _USER_ESCAPE.fullmatch(text.strip()):
        return found.group(1)
    if _USER_ESCAPE.search(text):
        raise CommandError("role takes one person")
    return _unescape(text).strip().strip("\"'").removeprefix("@")


def _note(incident: int, rest: str) -> Command:
    text = _unescape(rest).strip()
    if not text:
        raise CommandError("note needs some text")
    return AddNote(incident, text)


def _unescape(text: str) -> str:
    """Slack sends `&`, `<` and `>` typed by people as entities."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


_PARSERS: Mapping[str, Callable[[int, str], Command]] = {
    "ack": _ack,
    "acknowledge": _ack,
    "state": _state,
    "severity": _severity,
    "sev": _severity,
    "role": _role,
    "note": _note,
}
