"""Ask the tracker whether the configured project and token will do (`check-config
--online`): the token accepted, the project there, every right firstresponder uses
granted. A config file alone cannot show a token without rights."""

from __future__ import annotations

import aiohttp

from ..config_tickets import TicketConfig
from ..pagers.base import DeliveryError
from .wiring import build_tracker


async def tracker_problems(config: TicketConfig) -> list[str]:
    """Every problem the tracker reports; [] when all is well (or tickets are off)."""
    if not config.enabled:
        return []
    async with aiohttp.ClientSession() as session:
        try:
            return await build_tracker(config, session).check()
        except DeliveryError as exc:
            return [f"tickets.url: cannot ask {config.tracker} at {config.url}: {exc}"]
