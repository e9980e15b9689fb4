"""metric_names.py against what the daemon really exports (`Metrics().registry`)."""

from __future__ import annotations

import pytest
from prometheus_client.metrics import MetricWrapperBase

from firstresponder.metrics import Metrics

from .chart import ALERT_RULES, DASHBOARD, load_yaml, metric_names
from .metric_names import BY_NAME, FROM_PROMETHEUS, METRICS, PENDING_NAMES, MetricSpec, metric_of
from .test_dashboard import expressions, variable_queries


def exported() -> dict[str, str]:
    """Exposed name (counters with _total) -> type, from the daemon's registry."""
    out = {}
    for family in Metrics().registry.collect():
        name = f"{family.name}_total" if family.type == "counter" else family.name
        out[name] = family.type
    return out


def wrappers() -> dict[str, MetricWrapperBase]:
    out = {}
    for value in vars(Metrics()).values():
        if isinstance(value, MetricWrapperBase):
            family = next(iter(value.describe()))
            name = f"{family.name}_total" if family.type == "counter" else family.name
            out[name] = value
    return out


def skip_if_pending(names: set[str]) -> None:
    pending = sorted(names & PENDING_NAMES)
    if names - PENDING_NAMES:
        pytest.fail(f"not exported by the daemon: {sorted(names - PENDING_NAMES)}")
    if pending:
        pytest.skip(f"expected from the paging work but not exported yet: {pending}")


@pytest.mark.parametrize("spec", METRICS, ids=lambda m: m.name)
def test_metric_is_exported_with_its_type_and_labels(spec: MetricSpec) -> None:
    found = exported()
    if spec.name not in found:
        skip_if_pending({spec.name})
    assert found[spec.name] == spec.kind
    wrapper = wrappers().get(spec.name)
    assert wrapper is not None, f"{spec.name} is not an attribute of Metrics"
    if spec.labels:
        # labels() refuses any other set of label names.
        wrapper.labels(**{label: "x" for label in spec.labels})
    else:
        with pytest.raises(ValueError, match="No label names"):
            wrapper.labels()


def test_dashboard_and_alerts_use_only_exported_names() -> None:
    exprs = expressions() + variable_queries()
    rules = load_yaml(ALERT_RULES)
    exprs += [r["expr"] for g in rules["groups"] for r in g["rules"]]
    used = {metric_of(n) for e in exprs for n in metric_names(e)} - FROM_PROMETHEUS
    assert used <= set(BY_NAME), "metric_names.py must list every name the files use"
    missing = used - set(exported())
    if missing:
        skip_if_pending(missing)
    assert DASHBOARD.is_file()
