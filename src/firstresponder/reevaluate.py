"""While an incident is open, read its service's SLO numbers again and raise it as damage spreads.

Severity only rises here; a person may lower it. A failing Prometheus is noted on the
timeline once per failure streak, not on every pass.
"""

from __future__ import annotations

import logging
from datetime import datetime

from .commands import IncidentCommands
from .domain.classify import LabelClassifier
from .domain.incident import Incident, TimelineEntry
from .domain.vocabulary import Impact, Severity
from .slo_eval import SloEvaluator, SloOutcome
from .store.ports import Database, IncidentFilter

log = logging.getLogger(__name__)


class Reevaluator:
    def __init__(
        self,
        store: Database,
        classifier: LabelClassifier,
        evaluator: SloEvaluator,
        commands: IncidentCommands,
        severity_map: dict[Impact, Severity],
    ) -> None:
        self._store = store
        self._classifier = classifier
        self._evaluator = evaluator
        self._commands = commands
        self._severity_map = severity_map
        self._failing: set[int] = set()

    async def pass_once(self) -> int:
        """Evaluate every open incident with an SLO rule; returns how many were raised."""
        if not self._evaluator.enabled:
            return 0
        raised = 0
        open_incidents = await self._store.list_incidents(IncidentFilter(open_only=True, limit=500))
        self._failing &= {incident.id for incident in open_incidents}  # forget resolved ones
        for incident in open_incidents:
            rule = self._classifier.rule_for(incident.service)
            if rule is None or rule.slo is None:
                continue
            outcome = await self._evaluator.evaluate(rule, previous=incident.impact)
            raised += await self._apply(incident, outcome)
        return raised

    async def _apply(self, incident: Incident, outcome: SloOutcome) -> int:
        verdict = outcome.verdict
        if verdict is None:
            if incident.id not in self._failing:
                self._failing.add(incident.id)
                note = f"Live SLO re-evaluation failed, severity kept: {outcome.failure}"
                await self._commands.change(incident.id, lambda i, now: [_entry(now, note)])
            return 0
        self._failing.discard(incident.id)
        if not incident.impact < verdict.impact:
            return 0
        evidence = tuple(e.as_dict() for e in verdict.evidence)

        def raise_it(current: Incident, now: datetime) -> list[TimelineEntry]:
            return current.raise_impact(
                verdict.impact, self._severity_map, now, f"SLO: {verdict.reason}", evidence
            )

        await self._commands.change(incident.id, raise_it)
        log.warning(
            "incident raised by SLO re-evaluation",
            extra={"incident_id": incident.id, "impact": verdict.impact.value},
        )
        return 1


def _entry(now: datetime, message: str) -> TimelineEntry:
    return TimelineEntry(now, "slo_unavailable", message)
