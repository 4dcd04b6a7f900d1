"""How far back raw data goes, after pruning: on /console/info and in the attach client's info."""

from __future__ import annotations

from datetime import timedelta

from apitools import Api

from console.api.client import RemoteBackend
from console.core.models import LogEntry
from console.core.retention import Pruner, RetentionPolicy


async def test_info_says_since_when_raw_frames_and_samples_are_kept(api: Api) -> None:
    service = api.service
    now = api.clock.now()

    def frames(session):  # type: ignore[no-untyped-def]
        for hours in (50, 30, 2):
            session.add(LogEntry(identity="CP-A01", charger_id="dep-a01", at=now - timedelta(hours=hours), direction="in", message="[2]"))
        session.commit()

    await service.store.run(frames)
    response = await api.client.get("/console/info", headers=api.bearer())
    assert response.json()["frames_since"] is None  # nothing pruned: no pruner says so

    service.pruner = Pruner(service.store, RetentionPolicy(frames=timedelta(days=1)), api.clock, pause=0)
    await service.pruner.prune()

    info = (await api.client.get("/console/info", headers=api.bearer())).json()
    assert info["frames_since"].startswith((now - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
    assert info["samples_since"] is None  # none kept
    remote = RemoteBackend(api.url, api.key)
    try:
        assert (await remote.connect()).frames_since == now - timedelta(hours=2)
    finally:
        await remote.aclose()
