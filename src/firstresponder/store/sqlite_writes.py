"""The ingest path's bulk statements on SQLite, run on the driver without SQLAlchemy Core.

Core processes every bound value through its column type and builds an execution context
and a result per statement; for the rows of a webhook batch (an event and an incident
alert per alert) that costs several times what SQLite takes to store them. Here each value
is serialised once, exactly as the column type would store it (`UtcDateTime`: naive UTC
text with microseconds; `JSON`: `json.dumps`), and the statements run on the driver's
cursor, inside the transaction Core began; a driver error is wrapped as Core wraps it
(`sqlalchemy.exc.OperationalError`, `IntegrityError`, ...), so the store's handling of
errors is unchanged. Reads through Core see the same rows:
tests/integration/store/test_sqlite_writes.py compares the two.

Lists of keys travel as one JSON array (`json_each`), so a statement's text, and
SQLite's cached plan for it, does not depend on how many keys a batch has.

PostgreSQL keeps the Core statements (`unit_of_work.CoreWrites`).
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import JSON, Connection, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

from ..domain.grouping import ClassifiedAlert
from ..domain.incident import TimelineEntry, TrackedAlert
from .rows import EVENT_FIELDS, event_key, new_group_values, tracked_from_row
from .tables import UtcDateTime, alert_events, groups, incidents, outbox, string_map_text

_NEW_GROUP = (
    f"INSERT OR IGNORE INTO alert_groups ({', '.join(c.name for c in groups.c)})"
    f" VALUES ({', '.join('?' for _ in groups.c)})"
)
_GROUPS = (
    f"SELECT {', '.join(c.name for c in groups.c)} FROM alert_groups"
    " WHERE group_key IN (SELECT value FROM json_each(?))"
)
_OPEN_INCIDENTS = (
    f"SELECT {', '.join(c.name for c in incidents.c)} FROM incidents"
    " WHERE group_key IN (SELECT value FROM json_each(?)) AND state != 'resolved' ORDER BY id"
)
_EXISTING_EVENTS = (
    "SELECT event_key FROM alert_events WHERE event_key IN (SELECT value FROM json_each(?))"
)
_INSERT_EVENT = (
    "INSERT INTO alert_events (event_key, fingerprint, status, starts_at, ends_at,"
    " received_at, receiver, group_key, labels, annotations, generator_url, impact, reason,"
    " evidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SOME_ALERTS = (
    f"SELECT a.data, {', '.join(f'e.{name}' for name in EVENT_FIELDS)}"
    " FROM incident_alerts a LEFT JOIN alert_events e ON e.event_key = a.event_key"
    " WHERE a.incident_id = ? AND a.fingerprint IN (SELECT value FROM json_each(?))"
)
_WRITE_ALERT = (
    "INSERT INTO incident_alerts (incident_id, fingerprint, starts_at, event_key, data)"
    " VALUES (?, ?, ?, ?, NULL) ON CONFLICT (incident_id, fingerprint)"
    " DO UPDATE SET starts_at = excluded.starts_at, event_key = excluded.event_key,"
    " data = NULL"
)
_INSERT_ENTRY = (
    "INSERT INTO timeline (incident_id, at, kind, actor, message, data) VALUES (?, ?, ?, ?, ?, ?)"
)
# Every column but the id: what `enqueue` writes (an escalation and its Slack posts).
_OUTBOX_COLUMNS = tuple(c.name for c in outbox.c if c.name != "id")
_INSERT_OUTBOX = (
    f"INSERT INTO outbox ({', '.join(_OUTBOX_COLUMNS)})"
    f" VALUES ({', '.join('?' for _ in _OUTBOX_COLUMNS)})"
)


def _unserialisable(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _make_dumps() -> Callable[[Any], str]:
    """`json.dumps` with its default settings (what SQLAlchemy's JSON type calls when no
    serializer is configured), with CPython's C encoder built once instead of per call:
    for the small documents of an alert that is half the cost."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # another Python, or no C accelerator: the same text, more slowly
        return json.dumps
    # No cycle check (markers None): the values written here are trees built from JSON.
    encode = make(
        None,
        _unserialisable,
        json.encoder.encode_basestring_ascii,
        None,
        ": ",
        ", ",
        False,
        False,
        True,
    )

    def dumps(value: Any) -> str:
        return "".join(encode(value, 0))

    return dumps


dumps = _make_dumps()


def _key_list(keys: list[str]) -> str:
    """A list of keys as the JSON array `json_each` reads (a parameter, never stored)."""
    return orjson.dumps(keys).decode()


def sqlite_time(value: datetime | None) -> str | None:
    """A datetime as `UtcDateTime` stores it on SQLite (SQLAlchemy's DATETIME format)."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the store")
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def _bind(impl: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    """The column type's bind processor; for JSON, `dumps` (the same text without building
    an encoder per call) for the documents it would hand to `json.dumps`; for
    `UtcDateTime`, `sqlite_time` (the same text without the type's two conversions)."""
    if isinstance(impl, UtcDateTime):
        return sqlite_time
    process: Callable[[Any], Any] | None = impl.bind_processor(dialect)
    if process is None or not isinstance(impl, JSON) or dialect._json_serializer is not None:
        return process
    slow = process

    def json_bind(value: Any) -> Any:
        return dumps(value) if type(value) is dict or type(value) is list else slow(value)

    return json_bind


def _result(impl: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    """The column type's result processor; for `UtcDateTime`, one `fromisoformat` of the
    naive UTC text it stores instead of SQLite's regular expression and the decorator."""
    if isinstance(impl, UtcDateTime):
        return _utc_time
    process: Callable[[Any], Any] | None = impl.result_processor(dialect, None)
    return process


def _utc_time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


class _Codec:
    """A table's column types applied by hand, with the processors Core itself would use
    (`dialect_impl(...).bind_processor` / `.result_processor`): for the few rows a batch
    reads and writes once, exactness matters more than the last microsecond."""

    def __init__(self, table: Table, dialect: Dialect) -> None:
        self.names = tuple(c.name for c in table.c)
        impls = {c.name: c.type.dialect_impl(dialect) for c in table.c}
        self._binds = {name: _bind(impl, dialect) for name, impl in impls.items()}
        self._results = tuple(_result(impl, dialect) for impl in impls.values())

    def encode(self, values: Mapping[str, Any], names: Sequence[str]) -> tuple[Any, ...]:
        out = []
        for name in names:
            bind = self._binds[name]
            out.append(values[name] if bind is None else bind(values[name]))
        return tuple(out)

    def decode(self, row: Sequence[Any]) -> dict[str, Any]:
        return {
            name: value if result is None else result(value)
            for name, result, value in zip(self.names, self._results, row, strict=True)
        }

    def decoder(
        self, names: Sequence[str], prefix: str = ""
    ) -> Callable[[Sequence[Any]], dict[str, Any]]:
        """`decode` for rows of these columns only, keyed `prefix + name`."""
        results = {name: result for name, result in zip(self.names, self._results, strict=True)}
        fields = [(prefix + name, results[name]) for name in names]

        def decode(row: Sequence[Any]) -> dict[str, Any]:
            return {
                key: value if result is None else result(value)
                for (key, result), value in zip(fields, row, strict=True)
            }

        return decode


@functools.cache
def _codec(table: Table, dialect: Dialect) -> _Codec:
    return _Codec(table, dialect)


@functools.cache
def _event_decoder(dialect: Dialect) -> Callable[[Sequence[Any]], dict[str, Any]]:
    """Decodes `_SOME_ALERTS`'s event columns into `rows.EVENT_COLUMNS`' keys."""
    return _codec(alert_events, dialect).decoder(EVENT_FIELDS, prefix="event_")


class SqliteWrites:
    """The bulk reads and writes of one ingest transaction, on one SQLite connection."""

    def __init__(self, conn: Connection) -> None:
        self._dialect = conn.dialect
        driver = conn.connection.driver_connection  # in the transaction `conn` began
        assert isinstance(driver, sqlite3.Connection)
        self._cursor = driver.cursor()
        # An alert's start recurs in its rows (its event's key, its incident row's), and
        # alerts of one notification share it: each is written once per transaction.
        self._times: dict[datetime, str | None] = {}
        self._written: dict[int, tuple[object, str]] = {}  # by identity; holds the object

    def _once(self, value: object, write: Callable[[Any], str]) -> str:
        """`write(value)`, remembered for this very object (not an equal one: a datetime's
        ISO text depends on its zone, which equality ignores)."""
        found = self._written.get(id(value))
        if found is not None and found[0] is value:
            return found[1]
        text = write(value)
        self._written[id(value)] = (value, text)
        return text

    def _run(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        try:
            return self._cursor.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise DBAPIError.instance(sql, params, exc, sqlite3.Error) from exc

    def _run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        try:
            self._cursor.executemany(sql, rows)
        except sqlite3.Error as exc:
            raise DBAPIError.instance(sql, rows, exc, sqlite3.Error, ismulti=True) from exc

    def _iso(self, value: datetime) -> str:
        return self._once(value, datetime.isoformat)

    def _time(self, value: datetime | None) -> str | None:
        if value is None:
            return None
        found = self._times.get(value)
        if found is None:
            found = self._times[value] = sqlite_time(value)
        return found

    def lock_groups(self, keys: Sequence[str]) -> dict[str, Any]:
        """Create the groups' rows where missing; each group's pending alerts (raw JSON).

        Nothing to lock on SQLite: the writer holds the database's write lock."""
        codec = _codec(groups, self._dialect)
        new = [codec.encode(new_group_values(key), codec.names) for key in keys]
        self._run_many(_NEW_GROUP, new)
        found = self._run(_GROUPS, (_key_list(list(keys)),))
        return {row["group_key"]: row["pending"] for row in map(codec.decode, found)}

    def open_incidents(self, keys: Sequence[str]) -> list[dict[str, Any]]:
        """The groups' open incidents as rows (column name to value), in id order."""
        codec = _codec(incidents, self._dialect)
        found = self._run(_OPEN_INCIDENTS, (_key_list(list(keys)),))
        return [codec.decode(row) for row in found]

    def update_incidents(self, values: Sequence[Mapping[str, Any]]) -> None:
        """Each `values` item: `rows.incident_values` and the `incident_id` it updates."""
        if not values:
            return
        codec = _codec(incidents, self._dialect)
        names = [name for name in values[0] if name != "incident_id"]
        sql = f"UPDATE incidents SET {', '.join(f'{n} = ?' for n in names)} WHERE id = ?"
        self._run_many(sql, [(*codec.encode(item, names), item["incident_id"]) for item in values])

    def insert_events(
        self, events: Sequence[ClassifiedAlert], receiver: str, now: datetime
    ) -> list[ClassifiedAlert]:
        """Store the events not stored yet (by `event_key`); those events.

        The writer holds SQLite's write lock for the whole transaction, so nothing can
        store a key between the look-up and the insert.
        """
        by_key: dict[str, ClassifiedAlert] = {}
        for item in events:
            key = event_key(item.alert, self._iso(item.alert.starts_at))
            by_key.setdefault(key, item)
        keys = _key_list(list(by_key))
        known = {row[0] for row in self._run(_EXISTING_EVENTS, (keys,))}
        received = sqlite_time(now)
        fresh = [(key, item) for key, item in by_key.items() if key not in known]
        if fresh:
            rows = [self._event_row(key, item, receiver, received) for key, item in fresh]
            self._run_many(_INSERT_EVENT, rows)
        return [item for _, item in fresh]

    def some_alerts(
        self, wanted: Mapping[int, Collection[str]]
    ) -> list[tuple[int, TrackedAlert | None]]:
        """Each incident's stored alerts with the fingerprints wanted for it: a statement
        per incident probes only its own (one for all would probe every pair)."""
        decode = _event_decoder(self._dialect)
        found = []
        for incident_id, fingerprints in wanted.items():
            params = (incident_id, _key_list(list(fingerprints)))
            for data, *event in self._run(_SOME_ALERTS, params):
                row = decode(event)
                row["data"] = None if data is None else json.loads(data)
                found.append((incident_id, tracked_from_row(row)))
        return found

    def write_alerts(self, alerts: Sequence[tuple[int, TrackedAlert]]) -> None:
        rows = [
            (
                incident_id,
                alert.fingerprint,
                self._time(alert.starts_at),
                event_key(alert, self._iso(alert.starts_at)),
            )
            for incident_id, alert in alerts
        ]
        if rows:
            self._run_many(_WRITE_ALERT, rows)

    def insert_entries(self, entries: Sequence[tuple[int, TimelineEntry]]) -> None:
        rows = [
            (incident_id, self._time(e.at), e.kind, e.actor, e.message, dumps(dict(e.data)))
            for incident_id, e in entries
        ]
        if rows:
            self._run_many(_INSERT_ENTRY, rows)

    def insert_outbox(self, values: Sequence[Mapping[str, Any]]) -> None:
        """Through the column types' own processors (`_Codec`), missing columns NULL."""
        codec = _codec(outbox, self._dialect)
        rows = [codec.encode(_with_nulls(v), _OUTBOX_COLUMNS) for v in values]
        if rows:
            self._run_many(_INSERT_OUTBOX, rows)

    def _event_row(
        self, key: str, item: ClassifiedAlert, receiver: str, received: str | None
    ) -> tuple[Any, ...]:
        alert, c = item.alert, item.classification
        return (
            key,
            alert.fingerprint,
            alert.status._value_,  # `.value` is a Python-level property: slow per alert
            self._time(alert.starts_at),
            self._time(alert.ends_at),
            received,
            receiver,
            c.group_key,
            string_map_text(alert.labels),
            string_map_text(alert.annotations),
            alert.generator_url,
            c.impact._value_,
            c.reason,
            dumps([dict(e) for e in c.evidence]) if c.evidence else "[]",
        )


def _with_nulls(values: Mapping[str, Any]) -> Mapping[str, Any]:
    missing = [name for name in _OUTBOX_COLUMNS if name not in values]
    return {**values, **dict.fromkeys(missing)} if missing else values
