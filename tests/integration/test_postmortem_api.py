"""The post-incident review through the real app: a scripted incident, then its draft.

The incident is driven the way it would be in production, over HTTP: Alertmanager's
webhooks, the REST API, a fake PagerDuty taking the pages and a fake Prometheus giving the
SLO numbers, on a fake clock that moves only when the script says so. The draft is then
compared with the expected text section by section.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from firstresponder.app import build_app
from firstresponder.config import load_config
from firstresponder.metrics import Metrics

from ..conftest import AiohttpClient
from ..factories import FakeClock, iso, make_payload, write_config
from ..fakes import CA_FILE, FakePagerDuty
from .support import call, post_alerts
from .test_paging_app import KEYS, settle, triggers

Client = TestClient[Any, Any]
AiohttpServer = Callable[..., Awaitable[TestServer]]
START = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # a Monday
ALERT_STARTED = START - timedelta(minutes=2)

# Sloth's error ratios by window for payments (objective 99.9%: a 0.1% error budget).
# Degraded: 0.4% errors over 5m, no burn rate at a paging level.
DEGRADED = {"5m": 0.004, "30m": 0.0035, "1h": 0.004, "2h": 0.0025}
DEGRADED |= {"6h": 0.0009, "1d": 0.001, "3d": 0.0008}
# Partial disruption: the budget burns at 16.2x over 1h and 20x over 5m (page: 14.4x).
BURNING = {"5m": 0.02, "30m": 0.009, "1h": 0.0162, "2h": 0.005}
BURNING |= {"6h": 0.004, "1d": 0.0015, "3d": 0.0007}
# Recovered: 0.02% errors everywhere, well within the budget.
RECOVERED = dict.fromkeys(DEGRADED, 0.0002)


class SlothPrometheus:
    """Answers `slo:sli_error:ratio_rate<window>` queries from the ratios it is given."""

    def __init__(self) -> None:
        self.ratios: dict[str, float] = {}

    async def query(self, request: web.Request) -> web.Response:
        form = await request.post()
        found = re.search(r"ratio_rate(\w+)\{", str(form["query"]))
        value = self.ratios.get(found.group(1)) if found else None
        result = [] if value is None else [{"metric": {}, "value": [0, str(value)]}]
        data = {"resultType": "vector", "result": result}
        return web.json_response({"status": "success", "data": data})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/v1/query", self.query)
        return app


@pytest.fixture
async def pd() -> AsyncIterator[FakePagerDuty]:
    async with FakePagerDuty() as fake:
        yield fake


@pytest.fixture
def prometheus() -> SlothPrometheus:
    return SlothPrometheus()


@pytest.fixture
async def app(
    aiohttp_client: AiohttpClient,
    aiohttp_server: AiohttpServer,
    tmp_path: Path,
    pd: FakePagerDuty,
    prometheus: SlothPrometheus,
    clock: FakeClock,
) -> Client:
    server = await aiohttp_server(prometheus.app())
    config = load_config(
        write_config(
            tmp_path,
            escalation={"enabled": True},
            pagerduty={"events_url": pd.url, "ca_file": str(CA_FILE), "routing_keys": KEYS},
            prometheus={"url": str(server.make_url("/"))},
        )
    )
    clock.current = START
    return await aiohttp_client(
        build_app(config, clock=clock, metrics=Metrics(), run_scheduler=False)
    )


def burn_alert(severity: str, status: str = "firing") -> dict[str, Any]:
    """Sloth's availability burn alert for payments, as Alertmanager sends it."""
    ended = {"endsAt": iso(START + timedelta(minutes=48))} if status == "resolved" else {}
    return {
        "status": status,
        "labels": {
            "alertname": "PaymentsAvailabilityBurn",
            "sloth_service": "payments",
            "sloth_slo": "requests-availability",
            "sloth_severity": severity,
        },
        "annotations": {"summary": f"payments is burning its error budget ({severity})"},
        "startsAt": iso(ALERT_STARTED),
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example:9090/graph",
        "fingerprint": f"fp-payments-burn-{severity}",
        **ended,
    }


async def script(
    client: Client,
    clock: FakeClock,
    prometheus: SlothPrometheus,
    hook: dict[str, str],
    api: dict[str, str],
) -> int:
    """The incident from 03:00; returns its id. Between two steps the clock runs minute by
    minute with a scheduler tick and a dispatcher pass each minute, as the daemon would."""

    async def until(minutes: int) -> None:
        while clock.current < START + timedelta(minutes=minutes):
            clock.advance(minutes=1)
            await settle(client)

    prometheus.ratios = DEGRADED
    answer = await post_alerts(client, make_payload(burn_alert("ticket")), hook)
    [incident_id] = answer["incidents"]
    base = f"/api/v1/incidents/{incident_id}"
    await settle(client)  # the EOC is paged
    await until(17)  # 03:15 nobody acknowledged: the IMOC is paged
    await call(client, "POST", f"{base}/ack", 200, headers=api, json={"by": "alice"})
    await until(18)
    imoc = {"role": "imoc", "person": "bob", "by": "bob"}
    await call(client, "POST", f"{base}/roles", 200, headers=api, json=imoc)
    await until(20)
    prometheus.ratios = BURNING  # and Sloth's page alert fires
    await post_alerts(client, make_payload(burn_alert("page")), hook)
    await until(50)  # 03:47 still investigating 30 minutes after the ack
    prometheus.ratios = RECOVERED
    recovered = make_payload(burn_alert("ticket", "resolved"), burn_alert("page", "resolved"))
    await post_alerts(client, recovered, hook)  # every alert recovered: monitoring
    await until(70)
    note = {"note": "error ratio back within the SLO", "by": "alice"}
    await call(client, "POST", f"{base}/resolve", 200, headers=api, json=note)
    await until(80)
    item = {
        "title": "Page on the fast burn before customers notice",
        "owner": "bob",
        "criticality": "critical",
        "due": "2026-11-27",
        "by": "bob",
    }
    await call(client, "POST", f"{base}/action-items", 201, headers=api, json=item)
    await until(120)  # the draft is read at 05:00
    return int(incident_id)


def sections(text: str) -> list[str]:
    """The document cut before each `## ` heading; the first part is the title and its lead."""
    return [part.rstrip("\n") + "\n" for part in re.split(r"(?m)^(?=## )", text)]


# --- the golden review --------------------------------------------------------------------

HEADER = """\
# Post-incident review: payments: partial disruption — payments is burning its error budget (page)

Status: **draft**, generated 2026-11-23 05:00 UTC from incident [#1](http://fr.example/api/v1/incidents/1).

This review is blameless: it looks for the process and tooling to improve, not for someone to blame.
"""

# Declared 03:00, acknowledged 03:17 (17 min), resolved 04:10 (1 h 10 min); the alert
# had started at 02:58, so the impact lasted 1 h 12 min.
SUMMARY = """\
## Executive summary

- **Service:** payments
- **Impact:** partial service disruption
- **Severity:** S2
- **State:** resolved
- **Incident owner:** IMOC (bob)
- **Declared at:** 2026-11-23 03:00 UTC from alert PaymentsAvailabilityBurn
- **Acknowledged at:** 2026-11-23 03:17 UTC
- **Acknowledged by:** alice
- **Time to acknowledge:** 17 min
- **Resolved at:** 2026-11-23 04:10 UTC
- **Time to resolve:** 1 h 10 min
- **Total duration:** 1 h 12 min, from the first alert (2026-11-23 02:58 UTC) to resolution
"""

# 0.004 against the 0.1% budget; then 0.0162 / 0.001 = 16.2x over 1h, 0.02 / 0.001 = 20x over 5m.
CLASSIFICATION = """\
## Classification history

| Time | Change | Cause | Signal | Value | Threshold | Window | Query |
| --- | --- | --- | --- | --- | --- | --- | --- |
| 2026-11-23 03:00 UTC | declared: degraded performance (S3) | SLO: error ratio 0.4% > SLO 0.1% (99.9% objective) over 5m | error ratio, crossed (service-wide) | 0.4% | 0.1% | 5m | `slo:sli_error:ratio_rate5m{sloth_service="payments",sloth_slo="requests-availability"}` |
| 2026-11-23 03:20 UTC | impact degraded performance → partial service disruption | SLO: page burn: error budget burning at 16.2× over 1h and 20× over 5m (≥ 14.4×) | burn rate, crossed (page 14.4× over 1h & 5m) | 16.2× | 14.4× | 1h | `slo:sli_error:ratio_rate1h{sloth_service="payments",sloth_slo="requests-availability"}` |
|   |   |   | burn rate, crossed (page 14.4× over 1h & 5m) | 20× | 14.4× | 5m | `slo:sli_error:ratio_rate5m{sloth_service="payments",sloth_slo="requests-availability"}` |
|   |   |   | error ratio, crossed (service-wide) | 2% | 0.1% | 5m | `slo:sli_error:ratio_rate5m{sloth_service="payments",sloth_slo="requests-availability"}` |
| 2026-11-23 03:20 UTC | severity S3 → S2 | follows the raised impact | — | — | — | — | — |

Only the readings that crossed their threshold are listed (a burn rate when both of its windows did; every reading when none did); the timeline API returns them all.
"""

# Every entry: the escalation (03:15 no ack), the acknowledgement, and at 03:47 the
# investigating deadline that finds the IMOC already engaged (not paged twice, and not
# called an escalation).
TIMELINE = """\
## Timeline

| Time | Actor | Kind | Message |
| --- | --- | --- | --- |
| 2026-11-23 03:00 UTC | firstresponder | declared | Incident declared: degraded (S3) from PaymentsAvailabilityBurn: SLO: error ratio 0.4% > SLO 0.1% (99.9% objective) over 5m |
| 2026-11-23 03:00 UTC | firstresponder | alert_firing | Alert PaymentsAvailabilityBurn firing: payments is burning its error budget (ticket) |
| 2026-11-23 03:00 UTC | firstresponder | paged | EOC paged through pagerduty: S3 declared |
| 2026-11-23 03:15 UTC | firstresponder | escalated | Escalated to IMOC: not acknowledged within 15 minutes |
| 2026-11-23 03:15 UTC | firstresponder | paged | IMOC paged through pagerduty: escalated: not acknowledged within 15 minutes |
| 2026-11-23 03:17 UTC | alice | acknowledged | Acknowledged by alice |
| 2026-11-23 03:17 UTC | alice | role_assigned | alice is Engineer On Call (EOC) |
| 2026-11-23 03:18 UTC | bob | role_assigned | bob is Incident Manager On Call (IMOC) |
| 2026-11-23 03:18 UTC | bob | ownership_passed | Ownership passed from EOC (alice) to IMOC (bob) |
| 2026-11-23 03:20 UTC | firstresponder | alert_firing | Alert PaymentsAvailabilityBurn firing: payments is burning its error budget (page) |
| 2026-11-23 03:20 UTC | firstresponder | impact_raised | Impact raised degraded → partial_disruption: SLO: page burn: error budget burning at 16.2× over 1h and 20× over 5m (≥ 14.4×) |
| 2026-11-23 03:20 UTC | firstresponder | severity_raised | Severity raised S3 → S2 |
| 2026-11-23 03:47 UTC | firstresponder | escalation_skipped | Still investigating 30 minutes after the EOC engaged; IMOC already engaged, nobody new to page |
| 2026-11-23 03:50 UTC | firstresponder | alert_resolved | Alert PaymentsAvailabilityBurn recovered |
| 2026-11-23 03:50 UTC | firstresponder | alert_resolved | Alert PaymentsAvailabilityBurn recovered |
| 2026-11-23 03:50 UTC | firstresponder | state_changed | State investigating → monitoring: all alerts recovered |
| 2026-11-23 04:10 UTC | alice | resolved | Resolved by alice: error ratio back within the SLO |
| 2026-11-23 04:20 UTC | bob | action_item_added | Action item added: Page on the fast burn before customers notice (owner bob, critical, due 2026-11-27) |
"""

ROLES = """\
## Roles

| Role | Person | Handed over from | Pages |
| --- | --- | --- | --- |
| Engineer On Call (EOC) | alice | — | 1 sent |
| Incident Manager On Call (IMOC) | bob | — | 1 sent |
| Communications Manager On Call (CMOC) | unassigned | — | none |
| Tech Lead (LEAD) | unassigned | — | none |
| Scribe (SCRIBE) | unassigned | — | none |

Incident owner: IMOC (bob).
"""

FIVE_WHYS = """\
## Five Whys

Start from the impact and ask "Why?" until the answer is a root cause that action items can fix.

**Why was payments partially disrupted?**

1. Why? – _(first why)_
2. Why? – _(second why)_
3. Why? – _(third why)_
4. Why? – _(fourth why)_
5. Why? – _(fifth why: the root cause)_
"""

ACTION_ITEMS = """\
## Action items

| Owner | Criticality | Target date | Status | Title |
| --- | --- | --- | --- | --- |
| bob | critical | 2026-11-27 | open | Page on the fast burn before customers notice |

Each action item must be tracked by a corresponding ticket in the backlog. Aim to avoid recurrence, fix the root cause, improve monitoring and alerting, increase resiliency and automated recovery, and decrease the time to recover.
"""

QUESTIONNAIRE = """\
## Post-mortem review questionnaire

1. How can we protect ourselves better from such an incident?

   _Answer:_

2. How can we ensure that the issue does not reoccur?

   _Answer:_

3. How can we recover quicker from such an incident?

   _Answer:_

4. How can we identify the issue quicker?

   _Answer:_
"""

# Resolved Monday 2026-11-23: five business days later, over the weekend, is Monday 30th.
CHECKLIST = """\
## After-incident checklist

- [ ] Return to baseline: the system is back in its nominal state (resilience, persisted configuration), and monitoring is back to baseline with every alert silence removed. _(Incident Owner)_
- [ ] Root cause analysis done and written up, with primary and secondary corrective actions. _(Incident Owner)_
- [ ] Post Mortem Review scheduled and run by 2026-11-30 (5 business days after recovery). _(Incident Owner)_
- [ ] Incident ticket updated. _(Incident Owner)_
- [ ] Customer communication decided. _(Customer Support lead, or the Incident Commander)_
- [ ] Every action item tracked by a ticket in the backlog. _(Incident Owner)_
- [ ] These steps verified as done in a timely manner. _(Incident Commander)_
"""

EXPECTED = [
    HEADER,
    SUMMARY,
    CLASSIFICATION,
    TIMELINE,
    ROLES,
    FIVE_WHYS,
    ACTION_ITEMS,
    QUESTIONNAIRE,
    CHECKLIST,
]


async def test_the_scripted_incident_gives_the_expected_review_section_by_section(
    app: Client,
    pd: FakePagerDuty,
    clock: FakeClock,
    prometheus: SlothPrometheus,
    hook_headers: dict[str, str],
    api_headers: dict[str, str],
) -> None:
    incident_id = await script(app, clock, prometheus, hook_headers, api_headers)
    assert triggers(pd) == [
        ("eoc", f"firstresponder-{incident_id}-eoc"),
        ("imoc", f"firstresponder-{incident_id}-imoc"),
    ]
    response = await app.get(f"/api/v1/incidents/{incident_id}/postmortem")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/markdown; charset=utf-8"
    got = sections(await response.text())
    assert [part.splitlines()[0] for part in got] == [part.splitlines()[0] for part in EXPECTED]
    for want, have in zip(EXPECTED, got, strict=True):
        diff = "\n".join(
            difflib.unified_diff(
                want.splitlines(), have.splitlines(), "expected", "served", lineterm=""
            )
        )
        assert have == want, f"section {want.splitlines()[0]!r} differs:\n{diff}"
    listing = await call(app, "GET", f"/api/v1/incidents/{incident_id}/action-items", 200)
    [item] = listing["action_items"]
    assert (item["created_by"], item["created_at"]) == ("bob", "2026-11-23T04:20:00+00:00")


# --- the action items API -----------------------------------------------------------------

CANARY = {
    "title": "Add a canary stage to the checkout deploy",
    "owner": "carol",
    "criticality": "high",
    "due": "2026-12-04",
}


async def declared(client: Client, api: dict[str, str]) -> str:
    """A hand-declared incident (on 2026-11-23); its API path."""
    body = {"service": "search", "title": "search: slow"}
    answer = await call(client, "POST", "/api/v1/incidents", 201, headers=api, json=body)
    return f"/api/v1/incidents/{answer['id']}"


async def test_an_added_item_is_answered_listed_and_on_the_timeline(
    client: Client, clock: FakeClock, api_headers: dict[str, str]
) -> None:
    path = await declared(client, api_headers)
    clock.advance(minutes=30)
    item = await call(client, "POST", f"{path}/action-items", 201, headers=api_headers, json=CANARY)
    assert item == {
        "id": 1,
        "incident_id": int(path.rsplit("/", 1)[1]),
        **CANARY,
        "created_at": "2026-11-23T03:31:00+00:00",
        "created_by": "tester",  # the API token's name: nobody was named with "by"
        "status": "open",
    }
    listing = await call(client, "GET", f"{path}/action-items", 200)
    assert listing["action_items"] == [item]
    timeline = await call(client, "GET", f"{path}/timeline", 200)
    last = timeline["entries"][-1]
    assert (last["kind"], last["actor"], last["data"]["action_item_id"]) == (
        "action_item_added",
        "tester",
        1,
    )
    draft = await client.get(f"{path}/postmortem")
    assert (
        "| carol | high | 2026-12-04 | open | Add a canary stage to the checkout deploy |"
        in await draft.text()
    )


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"title": "   "}, "title: '   ' does not match '\\\\S'"),
        ({"owner": None}, "(body): 'owner' is a required property"),
        ({"owner": "x" * 201}, "owner: bad value 'xxxx"),
        ({"criticality": "urgent"}, "criticality: 'urgent' is not one of"),
        ({"due": "30/11/2026"}, "due: '30/11/2026' does not match"),
        ({"due": "2026-02-30"}, "due must be an ISO date like 2026-11-30, got '2026-02-30'"),
        (
            {"due": "2026-11-22"},
            "due must not be before the incident was declared (2026-11-23), got 2026-11-22",
        ),
        ({"priority": "p1"}, "(body): Additional properties are not allowed ('priority'"),
    ],
    ids=lambda v: "" if isinstance(v, str) else ",".join(v),
)
async def test_a_bad_action_item_is_refused_naming_the_field(
    client: Client, api_headers: dict[str, str], change: dict[str, Any], error: str
) -> None:
    path = await declared(client, api_headers)
    body = {k: v for k, v in {**CANARY, **change}.items() if v is not None}
    answer = await call(client, "POST", f"{path}/action-items", 400, headers=api_headers, json=body)
    assert answer["error"].startswith(error), answer
    assert (await call(client, "GET", f"{path}/action-items", 200))["action_items"] == []


async def test_adding_needs_a_token_and_an_incident(
    client: Client, api_headers: dict[str, str]
) -> None:
    path = await declared(client, api_headers)
    await call(client, "POST", f"{path}/action-items", 401, json=CANARY)
    wrong = {"Authorization": "Bearer not-a-token"}
    await call(client, "POST", f"{path}/action-items", 401, headers=wrong, json=CANARY)
    missing = await call(
        client, "POST", "/api/v1/incidents/99/action-items", 404, headers=api_headers, json=CANARY
    )
    assert missing == {"error": "incident 99 not found"}


async def test_reads_of_an_unknown_incident_are_404_json(client: Client) -> None:
    for what in ("postmortem", "action-items"):
        answer = await call(client, "GET", f"/api/v1/incidents/99/{what}", 404)
        assert answer == {"error": "incident 99 not found"}
