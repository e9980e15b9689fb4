"""End-to-end fixtures: fresh PostgreSQL databases on the shared server, as the store suite
makes them (one name prefix per run, all dropped at the end; skipped when unreachable)."""

from ..databases import new_pg_database

__all__ = ["new_pg_database"]
