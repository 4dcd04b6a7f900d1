"""`ocpp-console store stats`: rows and bytes per kind, the last hour's growth, the size a year ahead; and the
retention settings the console and serve take (settings.json, --retention)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlmodel import Session

from console import cli
from console.core.clock import utcnow
from console.core.models import Charger, LogEntry, MeterSample, Organization
from console.core.retention import RetentionPolicy, store_stats
from console.core.store import Store


def fill(session: Session, now: datetime, minutes: int = 120) -> None:
    """`minutes` (two hours) of one charger's frames (one a minute) and samples (two a minute)."""
    session.add(Organization(id="org-1", name="default", created_at=now))
    session.flush()
    session.add(Charger(id="dep-1", organization_id="org-1", identity="CP-1", created_at=now, updated_at=now))
    session.flush()
    for minute in range(minutes, 0, -1):
        at = now - timedelta(minutes=minute)
        session.add(LogEntry(charger_id="dep-1", identity="CP-1", at=at, direction="in", message='[2,"1","Heartbeat",{}]'))
        session.add(MeterSample(charger_id="dep-1", connector_id=1, at=at, measurand="Power.Active.Import", value=1.0))
        session.add(MeterSample(charger_id="dep-1", connector_id=2, at=at, measurand="Power.Active.Import", value=1.0))
    session.commit()


@pytest.mark.stores("sqlite", "postgresql")
def test_stats_count_each_kind_and_project_its_growth(store: Store) -> None:
    now = datetime(2026, 4, 2, 12, 0, tzinfo=timezone.utc)
    store.run_sync(lambda session: fill(session, now))
    policy = RetentionPolicy(frames=timedelta(days=14))

    stats = store.run_sync(lambda session: store_stats(session, policy, now))

    kinds = {kind.kind: kind for kind in stats.kinds}
    frames, samples, rollups = kinds["frames"], kinds["samples"], kinds["rollups"]
    assert (frames.rows, frames.rows_per_hour, frames.oldest) == (120, 60, now - timedelta(minutes=120))
    assert (samples.rows, samples.rows_per_hour) == (240, 120)
    assert frames.bytes > 0 and frames.bytes_per_hour == pytest.approx(frames.bytes / 2, rel=0.01)
    # Kept 14 days: a year ahead it holds 14 days of the last hour's rate, whatever it holds now.
    assert frames.projected_bytes == pytest.approx(60 * 24 * 14 * frames.bytes / 120, rel=0.01)
    # Roll-ups come at four an hour for each connector that sent samples in the last hour, kept 2 years.
    assert (rollups.rows_per_hour, rollups.kept) == (8, "2y")
    assert stats.projected_bytes > stats.file_bytes > 0


def test_the_command_prints_them_with_the_policy_from_settings_and_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'console.db'}"
    store = Store(url)
    store.run_sync(lambda session: fill(session, utcnow()))
    store.close()
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"retention": {"frames": "7d", "events": "forever"}}))
    monkeypatch.setattr(cli, "_settings_path", lambda: settings)

    assert cli.main(["store", "stats", "--db", url, "--retention", "samples=10m", "--json"]) == 0

    printed = json.loads(capsys.readouterr().out)
    kept = {kind["kind"]: kind["kept"] for kind in printed["kinds"]}
    assert kept == {"frames": "7d", "samples": "10m", "rollups": "2y", "events": "forever", "unknown": "90d"}
    assert {kind["kind"]: kind["rows"] for kind in printed["kinds"]}["samples"] == 240

    assert cli.main(["store", "stats", "--db", url]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[1].startswith("frames") and "projected in a year" in text


def test_the_console_and_serve_take_the_retention_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"retention": {"frames": "1d"}}))
    monkeypatch.setattr(cli, "_settings_path", lambda: settings)

    args = cli.build_parser().parse_args(["serve", "--retention", "samples=2h,unknown=forever"])
    policy = cli._settings(args).retention

    assert (policy.frames, policy.samples, policy.unknown, policy.events) == (timedelta(days=1), timedelta(hours=2), None, timedelta(days=365))
    assert cli.main(["store", "stats", "--db", f"sqlite:///{tmp_path / 'x.db'}", "--retention", "frames=soon"]) == 1


def test_vacuum_switches_a_store_made_before_retention(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import sqlite3
    from contextlib import closing

    path = tmp_path / "old.db"
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA auto_vacuum=NONE")
        connection.execute("CREATE TABLE t (x)")  # the mode is fixed once a table exists
    Store(f"sqlite:///{path}").close()
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("PRAGMA auto_vacuum").fetchone() == (0,)

    assert cli.main(["store", "vacuum", "--db", f"sqlite:///{path}"]) == 0

    assert "pruned space now goes back" in capsys.readouterr().out
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("PRAGMA auto_vacuum").fetchone() == (2,)


@pytest.mark.stores("sqlite", "postgresql")
def test_a_store_younger_than_an_hour_is_measured_over_the_time_it_has_had(store: Store) -> None:
    now = datetime(2026, 4, 2, 12, 0, tzinfo=timezone.utc)
    store.run_sync(lambda session: fill(session, now, minutes=20))

    stats = store.run_sync(lambda session: store_stats(session, RetentionPolicy(), now))

    # 20 rows in the 20 minutes since its first: 60 an hour, not 20.
    assert {kind.kind: kind.rows_per_hour for kind in stats.kinds}["frames"] == 60
