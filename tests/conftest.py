"""Shared fixtures: a config on a temporary SQLite store, the app under test, a fake clock."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from firstresponder.app import build_app
from firstresponder.config import Config, load_config
from firstresponder.metrics import Metrics

from .factories import API_TOKEN, WEBHOOK_TOKEN, FakeClock, write_config

AiohttpClient = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return load_config(write_config(tmp_path))


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
async def client(
    aiohttp_client: AiohttpClient, config: Config, clock: FakeClock, metrics: Metrics
) -> TestClient[Any, Any]:
    app = build_app(config, clock=clock, metrics=metrics, run_scheduler=False)
    return await aiohttp_client(app)


@pytest.fixture
def hook_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {WEBHOOK_TOKEN}", "Content-Type": "application/json"}


@pytest.fixture
def api_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {API_TOKEN}", "Content-Type": "application/json"}
