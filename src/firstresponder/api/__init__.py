"""The HTTP edge: webhook, REST API, OpenAPI, health and metrics."""
