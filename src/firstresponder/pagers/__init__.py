"""Pager targets: where the outbox's pages go (PagerDuty, Grafana OnCall, a generic webhook)."""
