"""Webhook ingest benchmark: firstresponder against bare aiohttp baselines, driven by wrk.

Run with `.venv/bin/python -m bench.ingest`; see bench/README.md.
"""
