"""firstresponder: Prometheus/Alertmanager alerts in, well-run incidents out."""

__version__ = "0.1.0"
