"""Alert-storm benchmark: N services x 5 alerts, each notification sent twice, against the
real daemon with fake PagerDuty and Slack (Slack's rate limits included).

Run with `.venv/bin/python -m bench.storm`; see bench/README.md.
"""
