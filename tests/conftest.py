"""Shared fixtures: a real store in a temporary SQLite file, a manual clock, the console service."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from console.core.clock import ManualClock
from console.core.service import ConsoleService
from console.core.store import Store

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_FLEET = ROOT / "sample_fleet.json"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'console.db'}"


@pytest.fixture
def store(db_url: str) -> Store:
    store = Store(db_url)
    yield store
    store.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def service(store: Store, clock: ManualClock) -> AsyncIterator[ConsoleService]:
    service = ConsoleService(store, clock=clock, flush_interval=0.05)
    await service.open()
    yield service
    await service.close()


@pytest.fixture
def sample_fleet() -> dict:
    return json.loads(SAMPLE_FLEET.read_text())
