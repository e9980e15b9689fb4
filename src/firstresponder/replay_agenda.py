"""When is the replay's next piece of scheduled work due? Read from its own store.

The daemon needs no such question: its scheduler simply looks every second. A replay
of a week cannot afford 604,800 passes, so it asks the store for the earliest moment
anything waits for: a pending alert's `declare_after` (groups.next_declare_at), an
escalation deadline, an outbox message. The store's ports have no read for this, so
the agenda reads the replay's throwaway SQLite file itself, read-only, with the tables'
own definitions.
"""

from __future__ import annotations

from datetime import datetime
from types import TracebackType

from sqlalchemy import create_engine, func, select

from .store.tables import deadlines, groups, outbox


class Agenda:
    def __init__(self, url: str) -> None:
        self._engine = create_engine(url)
        self._queries = (
            select(func.min(groups.c.next_declare_at)),
            select(func.min(deadlines.c.due_at)),
            select(func.min(outbox.c.next_attempt_at)).where(outbox.c.status == "pending"),
        )

    def next_due(self) -> datetime | None:
        """The earliest time something waits for; None when nothing does.

        Synchronous on purpose: the replay runs one step at a time, and three minimums
        on a local file cost less than a hop to a thread.
        """
        with self._engine.connect() as conn:
            found = [conn.execute(query).scalar_one_or_none() for query in self._queries]
        return min((when for when in found if when is not None), default=None)

    def __enter__(self) -> Agenda:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._engine.dispose()
