"""The incident vocabulary of the handbooks: impact, severity, state and roles."""

from __future__ import annotations

import enum
from collections.abc import Mapping


class Impact(enum.Enum):
    """How badly a service hurts, in the status-page terms of the handbooks (ordered)."""

    OPERATIONAL = "operational"
    DEGRADED = "degraded"
    PARTIAL_DISRUPTION = "partial_disruption"
    OUTAGE = "outage"

    @property
    def rank(self) -> int:
        return _IMPACT_ORDER.index(self)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Impact):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Impact):
            return NotImplemented
        return self.rank <= other.rank

    @classmethod
    def parse(cls, text: str) -> Impact:
        """Accept the canonical names and the common spellings teams put in labels."""
        key = text.strip().lower().replace("-", "_").replace(" ", "_")
        found = _IMPACT_ALIASES.get(key)
        if found is None:
            raise ValueError(f"unknown impact {text!r}")
        return found


_IMPACT_ORDER = (Impact.OPERATIONAL, Impact.DEGRADED, Impact.PARTIAL_DISRUPTION, Impact.OUTAGE)
_IMPACT_ALIASES: Mapping[str, Impact] = {
    "operational": Impact.OPERATIONAL,
    "none": Impact.OPERATIONAL,
    "degraded": Impact.DEGRADED,
    "degraded_performance": Impact.DEGRADED,
    "partial": Impact.PARTIAL_DISRUPTION,
    "partial_disruption": Impact.PARTIAL_DISRUPTION,
    "partial_service_disruption": Impact.PARTIAL_DISRUPTION,
    "outage": Impact.OUTAGE,
    "disruption": Impact.OUTAGE,
    "service_disruption": Impact.OUTAGE,
    "major_outage": Impact.OUTAGE,
}


class Severity(enum.Enum):
    """S1 is the worst. P1..P4 are accepted as aliases."""

    S1 = "S1"
    S2 = "S2"
    S3 = "S3"
    S4 = "S4"

    @property
    def level(self) -> int:
        return int(self.value[1])

    def is_worse_than(self, other: Severity) -> bool:
        return self.level < other.level

    @classmethod
    def parse(cls, text: str) -> Severity:
        key = text.strip().upper()
        if len(key) == 2 and key[0] in "SP" and key[1] in "1234":
            return cls("S" + key[1])
        raise ValueError(f"unknown severity {text!r} (expected S1..S4 or P1..P4)")


DEFAULT_SEVERITY_MAP: Mapping[Impact, Severity] = {
    Impact.OUTAGE: Severity.S1,
    Impact.PARTIAL_DISRUPTION: Severity.S2,
    Impact.DEGRADED: Severity.S3,
    Impact.OPERATIONAL: Severity.S4,
}


class IncidentState(enum.Enum):
    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"

    @property
    def is_open(self) -> bool:
        return self is not IncidentState.RESOLVED


class Role(enum.Enum):
    """Incident roles; ownership passes EOC -> IMOC as roles engage."""

    EOC = "eoc"
    IMOC = "imoc"
    CMOC = "cmoc"
    LEAD = "lead"
    SCRIBE = "scribe"

    @property
    def title(self) -> str:
        return _ROLE_TITLES[self]


_ROLE_TITLES: Mapping[Role, str] = {
    Role.EOC: "Engineer On Call",
    Role.IMOC: "Incident Manager On Call",
    Role.CMOC: "Communications Manager On Call",
    Role.LEAD: "Tech Lead",
    Role.SCRIBE: "Scribe",
}

# Roles that own the incident, from the last to engage backwards.
OWNERSHIP_ORDER = (Role.IMOC, Role.EOC)
