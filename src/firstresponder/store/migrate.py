"""Run the Alembic migrations on a live connection (at start-up and by `firstresponder migrate`)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection


def upgrade_to_head(connection: Connection) -> None:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", "firstresponder.store:migrations")
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")
