"""The post-incident review draft: a golden document for a scripted incident, and edge cases.

The scripted incident is built with the real domain (classifier, SLO verdicts, grouping,
escalation policy, incident methods), so the golden file shows what a real one looks like.
If the golden file is missing or must change on purpose, regenerate it and read it:

    .venv/bin/python -m tests.unit.test_postmortem > tests/data/postmortem-golden.md
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from firstresponder.domain.action_items import (
    ActionItem,
    ActionItemStatus,
    Criticality,
    validate_action_item,
)
from firstresponder.domain.alerts import Alert, AlertStatus
from firstresponder.domain.classify import LabelClassifier, with_slo
from firstresponder.domain.escalation import EscalationPolicy, Page, on_deadline, on_declared
from firstresponder.domain.grouping import ClassifiedAlert, GroupEngine, GroupState
from firstresponder.domain.incident import Incident, TimelineEntry
from firstresponder.domain.matchers import parse_matcher_list
from firstresponder.domain.rules import ClassificationSettings, ServiceRule, SloRule
from firstresponder.domain.slo import Readings, SloSpec, SloVerdict, classify
from firstresponder.domain.slo_queries import SlothSource, render_query
from firstresponder.domain.vocabulary import (
    DEFAULT_SEVERITY_MAP,
    Impact,
    IncidentState,
    Role,
    Severity,
)
from firstresponder.postmortem import QUESTIONNAIRE, render_postmortem

GOLDEN = Path(__file__).parent.parent / "data" / "postmortem-golden.md"
REGENERATE = ".venv/bin/python -m tests.unit.test_postmortem > tests/data/postmortem-golden.md"
PUBLIC_URL = "https://firstresponder.example/"
T0 = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # a Monday
NOW = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)

SLO = SloRule(SloSpec(objective=0.999, outage_line=0.05), SlothSource("checkout", "availability"))
RULE = ServiceRule("checkout", parse_matcher_list(['service="checkout"']), slo=SLO)
CLASSIFIER = LabelClassifier((RULE,), ClassificationSettings())
ENGINE = GroupEngine(DEFAULT_SEVERITY_MAP)
POLICY = EscalationPolicy()


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def window(text: str) -> timedelta:
    unit = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}
    return int(text[:-1]) * unit[text[-1]]


def verdict(ratios: dict[str, float], previous: Impact | None = None) -> SloVerdict:
    """What the live SLO evaluation would say for these Sloth error ratios, with queries."""
    readings = Readings(error_ratio_by_window={window(w): r for w, r in ratios.items()})
    found = classify(SLO.spec, readings, previous)
    evidence = tuple(
        dataclasses.replace(e, query=render_query(SLO.source, e.window).promql)
        for e in found.evidence
    )
    return dataclasses.replace(found, evidence=evidence)


# Degraded: 0.4% errors against a 0.1% budget, no burn rate at a paging level.
DECLARE_RATIOS = {"5m": 0.004, "30m": 0.0035, "1h": 0.004, "2h": 0.0025}
DECLARE_RATIOS |= {"6h": 0.0009, "1d": 0.001, "3d": 0.0008}
# Partial disruption: the budget burns at 16.2x over 1h and 20x over 5m (page: 14.4x).
RAISE_RATIOS = {"5m": 0.02, "30m": 0.009, "1h": 0.0162, "2h": 0.005}
RAISE_RATIOS |= {"6h": 0.004, "1d": 0.0015, "3d": 0.0007}


def alert_event(status: AlertStatus, ends_at: datetime | None = None) -> ClassifiedAlert:
    alert = Alert(
        status=status,
        labels={"alertname": "CheckoutErrorBudgetBurn", "service": "checkout"},
        annotations={"summary": "checkout is burning its error budget"},
        starts_at=at(-2),
        ends_at=ends_at,
        generator_url="http://prometheus.example:9090/graph",
        fingerprint="fp-checkout-burn",
    )
    return ClassifiedAlert(
        alert, with_slo(CLASSIFIER.classify(alert), verdict(DECLARE_RATIOS), None)
    )


def paged(now: datetime, page: Page) -> TimelineEntry:
    """The entry the outbox dispatcher writes once PagerDuty took the page."""
    return TimelineEntry(
        now,
        "paged",
        f"{page.role.value.upper()} paged through pagerduty: {page.reason}",
        data={
            "role": page.role.value,
            "target": "pagerduty",
            "action": page.action.value,
            "dedup_key": page.dedup_key,
            "attempts": 1,
        },
    )


def declared_incident(timeline: list[TimelineEntry]) -> Incident:
    """03:00 the alert (firing since 02:58) declares a degraded S3; the EOC is paged."""
    event = alert_event(AlertStatus.FIRING)
    state = GroupState(event.classification.group_key)
    outcome = ENGINE.apply_events(state, [event], T0)
    assert outcome.declared and state.incident is not None
    incident = state.incident
    incident.id = 42  # the store assigns it
    timeline += outcome.timeline
    plan = on_declared(incident, POLICY, T0)
    timeline += [paged(T0, page) for page in plan.pages]
    # 03:15 nobody acknowledged: the deadline fires and the IMOC is paged.
    escalation = on_deadline(incident, plan.schedule[0], POLICY, {Role.EOC}, at(15))
    timeline += escalation.timeline + [paged(at(15), page) for page in escalation.pages]
    return incident


def scripted() -> tuple[Incident, list[TimelineEntry], list[ActionItem]]:
    timeline: list[TimelineEntry] = []
    incident = declared_incident(timeline)
    timeline += incident.acknowledge("alice", at(17))
    timeline += incident.assign_role(Role.IMOC, "bob", "bob", at(18))
    # 03:20 the SLO re-evaluation finds a paging burn (as reevaluate.py raises it).
    worse = verdict(RAISE_RATIOS, previous=incident.impact)
    evidence = tuple(e.as_dict() for e in worse.evidence)
    cause = f"SLO: {worse.reason}"
    timeline += incident.raise_impact(worse.impact, DEFAULT_SEVERITY_MAP, at(20), cause, evidence)
    timeline += incident.assign_role(Role.LEAD, "carol", "bob", at(22))
    cause = "deploy 2026.11.23-1 broke payment retries"
    timeline += incident.set_state(IncidentState.IDENTIFIED, "carol", at(30), cause)
    timeline += incident.add_note("Rolled back deploy 2026.11.23-1", "carol", at(35))
    # 03:50 the alert recovers (ended 03:48): every alert is quiet, so monitoring.
    state = GroupState(incident.group_key, incident=incident)
    timeline += ENGINE.apply_events(
        state, [alert_event(AlertStatus.RESOLVED, at(48))], at(50)
    ).timeline
    timeline += incident.resolve("alice", at(70), "error ratio back within the SLO")
    return incident, timeline, action_items(incident)


def action_items(incident: Incident) -> list[ActionItem]:
    wanted = [
        ("Add a canary stage to the checkout deploy", "carol", "high", "2026-12-04"),
        ("Page on the fast burn before customers notice", "bob", "critical", "2026-11-27"),
    ]
    items = []
    for number, (title, owner, criticality, due) in enumerate(wanted, 1):
        draft = validate_action_item(
            title=title,
            owner=owner,
            criticality=criticality,
            due=due,
            declared_at=incident.declared_at,
        )
        items.append(
            ActionItem(
                number,
                incident.id,
                draft.title,
                draft.owner,
                draft.criticality,
                draft.due,
                NOW,
                "bob",
            )
        )
    return items


def render_scripted() -> str:
    incident, timeline, items = scripted()
    return render_postmortem(incident, timeline, items, now=NOW, public_url=PUBLIC_URL)


def sections(text: str) -> dict[str, str]:
    """Heading line -> the section's text; the part before the first `## ` is the header."""
    parts = re.split(r"(?m)^(?=## )", text)
    return {part.splitlines()[0]: part for part in parts}


def section(text: str, heading: str) -> str:
    return sections(text)[f"## {heading}"]


# --- the golden document ----------------------------------------------------------------


def test_the_scripted_incident_matches_the_golden_review_section_by_section() -> None:
    if not GOLDEN.exists():
        pytest.fail(f"{GOLDEN} is missing: write it with `{REGENERATE}` and read it")
    got, want = sections(render_scripted()), sections(GOLDEN.read_text())
    assert list(got) == list(want)
    for heading, text in want.items():
        diff = "\n".join(
            difflib.unified_diff(
                text.splitlines(), got[heading].splitlines(), "golden", "rendered", lineterm=""
            )
        )
        assert got[heading] == text, f"section {heading!r} differs:\n{diff}"


def test_sections_come_in_the_review_order() -> None:
    assert [h for h in sections(render_scripted()) if h.startswith("## ")] == [
        "## Executive summary",
        "## Classification history",
        "## Timeline",
        "## Roles",
        "## Five Whys",
        "## Action items",
        "## Post-mortem review questionnaire",
        "## After-incident checklist",
    ]


def test_the_header_links_the_incident_and_says_draft() -> None:
    text = render_scripted()
    assert text.startswith(
        "# Post-incident review: checkout: degraded — checkout is burning its error budget\n"
    )
    assert "Status: **draft**, generated 2026-11-23 05:00 UTC" in text
    assert "[#42](https://firstresponder.example/api/v1/incidents/42)" in text


def test_the_summary_gives_the_times_to_acknowledge_and_resolve() -> None:
    summary = section(render_scripted(), "Executive summary")
    assert "- **Impact:** partial service disruption\n" in summary
    assert "- **Severity:** S2\n" in summary
    assert "- **Acknowledged at:** 2026-11-23 03:17 UTC\n" in summary
    assert "- **Acknowledged by:** alice\n" in summary
    assert "- **Time to acknowledge:** 17 min\n" in summary
    assert "- **Resolved at:** 2026-11-23 04:10 UTC\n" in summary
    assert "- **Time to resolve:** 1 h 10 min\n" in summary
    assert (
        "- **Total duration:** 1 h 12 min, from the first alert (2026-11-23 02:58 UTC) to "
        "resolution\n"
    ) in summary


def test_classification_history_shows_each_change_with_its_numbers() -> None:
    history = section(render_scripted(), "Classification history")
    rows = [line for line in history.splitlines() if line.startswith("| 2026")]
    assert [row.split(" | ")[1] for row in rows] == [
        "declared: degraded performance (S3)",
        "impact degraded performance → partial service disruption",
        "severity S3 → S2",
    ]
    assert "| error ratio, crossed (service-wide) | 0.4% | 0.1% | 5m |" in rows[0]
    assert (
        '`slo:sli_error:ratio_rate5m{sloth_service="checkout",sloth_slo="availability"}`'
        in (rows[0])
    )
    assert "| burn rate, crossed (page 14.4× over 1h & 5m) | 16.2× | 14.4× | 1h |" in history


def test_every_timeline_entry_has_its_row() -> None:
    incident, timeline, items = scripted()
    text = render_postmortem(incident, timeline, items, now=NOW, public_url=PUBLIC_URL)
    rows = [line for line in section(text, "Timeline").splitlines() if line.startswith("| 2026")]
    assert len(rows) == len(timeline) == 17
    for row, entry in zip(rows, timeline, strict=True):
        assert row.endswith(f"| {entry.actor} | {entry.kind} | {entry.message} |")
    assert {e.kind for e in timeline} >= {
        "declared",
        "paged",
        "escalated",
        "acknowledged",
        "role_assigned",
        "ownership_passed",
        "impact_raised",
        "severity_raised",
        "state_changed",
        "note",
        "alert_resolved",
        "resolved",
    }


def test_roles_name_people_and_count_pages() -> None:
    roles = section(render_scripted(), "Roles")
    assert "| Engineer On Call (EOC) | alice | — | 1 sent |" in roles
    assert "| Incident Manager On Call (IMOC) | bob | — | 1 sent |" in roles
    assert "| Communications Manager On Call (CMOC) | unassigned | — | none |" in roles
    assert "| Tech Lead (LEAD) | carol | — | none |" in roles
    assert "Incident owner: IMOC (bob)." in roles


def test_five_whys_start_from_the_impact() -> None:
    whys = section(render_scripted(), "Five Whys")
    assert "**Why was checkout partially disrupted?**" in whys
    assert [line[:2] for line in whys.splitlines() if "Why? –" in line] == [
        "1.",
        "2.",
        "3.",
        "4.",
        "5.",
    ]


def test_action_items_list_the_most_critical_first() -> None:
    items = section(render_scripted(), "Action items")
    assert (
        "| bob | critical | 2026-11-27 | open | Page on the fast burn before customers notice |\n"
        "| carol | high | 2026-12-04 | open | Add a canary stage to the checkout deploy |"
    ) in items


def test_the_questionnaire_is_complete_and_verbatim() -> None:
    questionnaire = section(render_scripted(), "Post-mortem review questionnaire")
    for number, question in enumerate(QUESTIONNAIRE, 1):
        assert f"{number}. {question}\n\n   _Answer:_" in questionnaire
    assert len(QUESTIONNAIRE) == 4


def test_the_review_is_due_five_business_days_after_recovery() -> None:
    checklist = section(render_scripted(), "After-incident checklist")
    # Resolved Monday 2026-11-23: five business days later is Monday 2026-11-30.
    assert "run by 2026-11-30 (5 business days after recovery)" in checklist
    assert "alert silence removed" in checklist
    assert "Root cause analysis" in checklist


def test_a_given_review_date_wins() -> None:
    incident, timeline, items = scripted()
    text = render_postmortem(
        incident, timeline, items, now=NOW, public_url=PUBLIC_URL, review_due=date(2026, 11, 26)
    )
    assert "Post Mortem Review scheduled and run by 2026-11-26. " in text


def test_rendering_is_deterministic() -> None:
    assert render_scripted() == render_scripted()


# --- edge cases -------------------------------------------------------------------------


def open_incident(**overrides: object) -> Incident:
    fields: dict[str, object] = {
        "id": 7,
        "group_key": "service=search",
        "service": "search",
        "title": "search: slow",
        "impact": Impact.DEGRADED,
        "severity": DEFAULT_SEVERITY_MAP[Impact.DEGRADED],
        "state": IncidentState.INVESTIGATING,
        "declared_at": T0,
        "updated_at": T0,
        "source": "manual",
        "classification": {"impact": "degraded", "reason": "declared by dana"},
    }
    fields.update(overrides)
    return Incident(**fields)  # type: ignore[arg-type]


def manual_declaration() -> TimelineEntry:
    return TimelineEntry(
        T0,
        "declared",
        "Incident declared by dana: degraded (S3)",
        actor="dana",
        data={"impact": "degraded", "severity": "S3"},
    )


def test_an_unresolved_incident_says_it_is_ongoing() -> None:
    incident = open_incident()
    text = render_postmortem(
        incident, [manual_declaration()], [], now=at(95), public_url=PUBLIC_URL
    )
    summary = section(text, "Executive summary")
    assert "- **Declared at:** 2026-11-23 03:00 UTC by dana\n" in summary
    assert "- **Acknowledged at:** not acknowledged\n" in summary
    assert "- **Resolved at:** not resolved yet\n" in summary
    assert "- **Time to resolve:** ongoing\n" in summary
    assert "- **Total duration:** ongoing: 1 h 35 min so far, from the declaration\n" in summary
    assert "- **State:** investigating\n" in summary
    assert "within 5 business days after recovery (not recovered yet)" in text
    history = section(text, "Classification history")
    assert "| declared: degraded performance (S3) | declared by dana | — |" in history


def test_an_incident_without_action_items_gets_a_placeholder_row() -> None:
    text = render_postmortem(
        open_incident(), [manual_declaration()], [], now=NOW, public_url=PUBLIC_URL
    )
    assert "| — | — | — | — | _No action items yet: add them during the review._ |" in section(
        text, "Action items"
    )


def test_an_overdue_open_action_item_is_flagged_and_a_done_one_is_not() -> None:
    incident = open_incident()
    late = ActionItem(1, 7, "Fix it", "erin", Criticality.LOW, date(2026, 11, 24), T0, "dana")
    done = dataclasses.replace(late, id=2, status=ActionItemStatus.DONE)
    text = render_postmortem(incident, [], [late, done], now=at(60 * 48), public_url=PUBLIC_URL)
    assert "| erin | low | 2026-11-24 | open (overdue) | Fix it |" in text
    assert "| erin | low | 2026-11-24 | done | Fix it |" in text


def test_declaration_evidence_falls_back_to_the_incident_classification() -> None:
    reading = {"kind": "outage_line", "value": 0.2, "threshold": 0.05, "window": "5m"}
    reading |= {"parts": ["eu", "us"], "crossed": True, "note": "", "query": 'q{a=~"x|y"}'}
    incident = open_incident(
        classification={"impact": "outage", "reason": "labels", "evidence": [reading]}
    )
    entries = [
        manual_declaration(),
        *incident.set_severity(Severity.S1, "dana", at(3)),
        TimelineEntry(at(4), "page_failed", "CMOC page failed", data={"role": "cmoc"}),
        TimelineEntry(at(5), "paged", "CMOC paged", data={"role": "cmoc"}),
    ]
    text = render_postmortem(incident, entries, [], now=NOW, public_url=PUBLIC_URL)
    history = section(text, "Classification history")
    assert (
        '| declared by dana | outage line in eu, us, crossed | 20% | 5% | 5m | `q{a=~"x\\|y"}` |'
    ) in history
    assert "| 2026-11-23 03:03 UTC | severity S3 → S1 | set by dana | — |" in history
    roles = section(text, "Roles")
    assert "| Communications Manager On Call (CMOC) | unassigned | — | 1 sent, 1 failed |" in roles


HOSTILE = "Checkout | down\n## Injected heading\n# another\n<script>x</script> \\| end #"


def test_user_text_cannot_break_tables_or_inject_headings() -> None:
    incident = open_incident(title=HOSTILE, service="se|rch\n# svc", description=HOSTILE)
    note = TimelineEntry(at(5), "note", HOSTILE, actor="mallory|x\n# y")
    item = ActionItem(1, 7, HOSTILE, "o|wner\n# z", Criticality.HIGH, date(2026, 12, 1), T0, "m")
    text = render_postmortem(
        incident, [manual_declaration(), note], [item], now=NOW, public_url=PUBLIC_URL
    )
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert len(headings) == 9  # the title and the eight sections, nothing injected
    assert headings[0] == (
        r"# Post-incident review: Checkout \| down ## Injected heading # another "
        r"&lt;script>x&lt;/script> \\\| end \#"
    )
    assert "<script>" not in text
    for line in text.splitlines():
        if line.startswith("| "):
            assert line.endswith(" |")
    for lines in _tables(text):
        assert len({_cells(line) for line in lines}) == 1, lines
    timeline = section(text, "Timeline")
    assert (
        r"| mallory\|x<br>\# y | note | Checkout \| down<br>\## Injected heading<br>\# another"
        in timeline
    )


def _tables(text: str) -> list[list[str]]:
    """Every run of consecutive table lines."""
    found: list[list[str]] = []
    current: list[str] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            found.append(current)
            current = []
    return found


def _cells(line: str) -> int:
    """Cell delimiters as GitHub counts them: `\\` escapes the character after it."""
    count, escaped = 0, False
    for char in line:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "|":
            count += 1
    return count


def test_every_table_of_the_golden_document_is_well_formed() -> None:
    tables = _tables(render_scripted())
    assert len(tables) == 4
    for lines in tables:
        assert len({_cells(line) for line in lines}) == 1, lines


if __name__ == "__main__":
    print(render_scripted(), end="")
