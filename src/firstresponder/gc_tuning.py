"""Garbage-collector settings for the serving process.

A webhook allocates thousands of short-lived containers (the decoded JSON, the alerts,
the rows written for them), nearly all freed by reference counting the moment the request
is answered. With CPython's default threshold the cyclic collector runs every 700 net
allocations, several times per webhook, and every tenth run of the middle generation
walks the whole heap (SQLAlchemy, aiohttp and the app are tens of thousands of objects).
That costs a fifth of the CPU of a 20-alert webhook; the settings below cost a little
memory (more young garbage waits for its collection) and take that back.
"""

from __future__ import annotations

import gc

# Net container allocations between two collections of the youngest generation
# (CPython's default is 700).
YOUNG_THRESHOLD = 20_000


def tune_for_serving() -> None:
    """Call once the app is built, before serving.

    What is alive then (modules, configuration, rules) lives as long as the process, so
    it is moved out of the collector's sight (`gc.freeze`) after a last collection, and
    the youngest generation is collected less often. The older generations keep their
    thresholds, counted in collections of the younger one.
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
