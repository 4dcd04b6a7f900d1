"""The store and the fleet service: CRUD, validation of every field, import and export."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import select

from console.cli import main
from console.core.errors import ImportRefused, NotFound, ValidationFailed
from console.core.models import Charger, Location
from console.core.service import ConsoleService
from console.core.store import Store

ROOT = Path(__file__).resolve().parent.parent


def test_sqlite_store_uses_wal(store: Store) -> None:
    mode = store.run_sync(lambda session: session.exec(text("PRAGMA journal_mode")).one())  # type: ignore[call-overload]
    assert mode[0] == "wal"


def test_default_store_honours_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from console.core.store import default_db_url

    monkeypatch.setenv("OCPP_CONSOLE_DB", f"sqlite:///{tmp_path / 'x.db'}")
    assert default_db_url() == f"sqlite:///{tmp_path / 'x.db'}"
    monkeypatch.delenv("OCPP_CONSOLE_DB")
    assert default_db_url().endswith("ocpp-console/console.db")


async def test_create_update_delete(service: ConsoleService) -> None:
    created = await service.create_charger(
        {"identity": "CP-1", "name": "Bay 1", "max_charging_power": "7400", "number_of_connectors": 2}
    )
    assert created.id.startswith("dep-")
    assert (created.max_charging_power, created.number_of_connectors, created.ocpp_version) == (7400, 2, "OCPP1.6")
    updated = await service.update_charger(created.id, {"name": "Bay One", "max_charging_power": 11000})
    assert (updated.name, updated.max_charging_power, updated.identity) == ("Bay One", 11000, "CP-1")
    reloaded = await service.store.run(lambda s: s.get(Charger, created.id))
    assert reloaded.name == "Bay One"
    await service.delete_charger(created.id)
    assert await service.list_chargers() == []
    with pytest.raises(NotFound):
        await service.get_charger(created.id)


async def test_every_bad_field_is_reported_by_name(service: ConsoleService) -> None:
    await service.create_charger({"identity": "CP-TAKEN"})
    with pytest.raises(ValidationFailed) as refused:
        await service.create_charger(
            {
                "identity": "CP-TAKEN",
                "number_of_connectors": 0,
                "max_charging_power": -5,
                "ocpp_version": "OCPP1.5",
                "location_id": "nowhere",
            }
        )
    problems = refused.value.problems
    assert "already used" in problems["identity"]
    assert "between 1 and 8" in problems["number_of_connectors"]
    assert "more than 0" in problems["max_charging_power"]
    assert "unknown version" in problems["ocpp_version"]
    assert "unknown location" in problems["location_id"]


@pytest.mark.parametrize(
    ("identity", "fragment"),
    [("", "required"), ("   ", "required"), ("CP 1", "only letters"), ("CP/1", "only letters"), ("CP:1", "only letters"), ("X" * 49, "at most 48")],
)
async def test_bad_identities(service: ConsoleService, identity: str, fragment: str) -> None:
    problems = await service.check_charger({"identity": identity})
    assert fragment in problems["identity"]
    with pytest.raises(ValidationFailed):
        await service.create_charger({"identity": identity})


async def test_update_keeps_own_identity_and_checks_others(service: ConsoleService) -> None:
    first = await service.create_charger({"identity": "CP-A"})
    await service.create_charger({"identity": "CP-B"})
    assert await service.check_charger({"identity": "CP-A"}, first.id) == {}
    assert "already used" in (await service.check_charger({"identity": "CP-B"}, first.id))["identity"]


async def test_import_export_round_trip(service: ConsoleService, sample_fleet: dict, tmp_path: Path) -> None:
    locations, chargers = await service.store.run(lambda s: service.fleet.import_fleet(s, sample_fleet))
    assert (locations, chargers) == (3, 12)
    exported = await service.store.run(service.fleet.export_fleet)
    assert exported == sample_fleet


async def test_bad_file_is_refused_whole(service: ConsoleService, sample_fleet: dict) -> None:
    bad = copy.deepcopy(sample_fleet)
    bad["chargers"][1]["identity"] = bad["chargers"][0]["identity"]
    bad["chargers"][3]["max_charging_power"] = -1
    bad["chargers"][4]["location_id"] = "missing"
    bad["chargers"][5]["number_of_connectors"] = 0
    with pytest.raises(ImportRefused) as refused:
        await service.store.run(lambda s: service.fleet.import_fleet(s, bad))
    listed = {(subject, field) for subject, field, _ in refused.value.problems}
    assert ("charger CP-NORTH-A01", "identity") in listed
    assert ("charger CP-NORTH-A04", "max_charging_power") in listed
    assert ("charger CP-NORTH-DC1", "location_id") in listed
    assert ("charger CP-SOUTH-B01", "number_of_connectors") in listed
    counts = await service.store.run(
        lambda s: (len(s.exec(select(Charger)).all()), len(s.exec(select(Location)).all()))
    )
    assert counts == (0, 0)


def test_cli_import_and_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert main(["fleet", "import", str(ROOT / "sample_fleet.json"), "--db", url]) == 0
    assert "12 chargers" in capsys.readouterr().out
    assert main(["fleet", "export", "--db", url]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads((ROOT / "sample_fleet.json").read_text())
    # Importing again is refused whole: every identity is taken.
    assert main(["fleet", "import", str(ROOT / "sample_fleet.json"), "--db", url]) == 1
    assert "nothing imported" in capsys.readouterr().err


def test_cli_generates_a_fleet_to_import(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["fleet", "generate", "--count", "3", "--prefix", "LAB-", "--version", "2.0.1", "--simulated", "--location", "Test Bay"]) == 0
    document = capsys.readouterr().out
    # Straight into an import, as `fleet generate … | fleet import -` does.
    monkeypatch.setattr("sys.stdin", io.StringIO(document))
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert main(["fleet", "import", "-", "--db", url]) == 0
    assert "1 locations and 3 chargers" in capsys.readouterr().out
    assert main(["chargers", "--db", url]) == 0
    chargers = json.loads(capsys.readouterr().out)
    assert [(c["identity"], c["ocpp_version"], c["simulated"], c["location_id"]) for c in chargers] == [
        (f"LAB-000{n}", "OCPP2.0.1", True, "loc-test-bay") for n in (1, 2, 3)
    ]
    assert main(["fleet", "generate", "--count", "0"]) == 2
    assert "--count must be 1 to 100,000" in capsys.readouterr().err


def test_cli_refuses_a_bad_file_with_every_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"locations": [], "chargers": [{"identity": ""}, {"identity": "OK-1", "max_charging_power": 0}]}))
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert main(["fleet", "import", str(bad), "--db", url]) == 1
    err = capsys.readouterr().err
    assert "charger #1: identity: required" in err
    assert "charger OK-1: max_charging_power" in err
    assert main(["chargers", "--db", url]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_an_older_store_gains_the_new_columns(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as old:
        # The chargerstate table as the first release wrote it.
        old.execute(
            "CREATE TABLE chargerstate (charger_id VARCHAR PRIMARY KEY, status VARCHAR NOT NULL, is_connected BOOLEAN NOT NULL)"
        )
        old.execute("INSERT INTO chargerstate VALUES ('dep-1', 'offline', 0)")
    store = Store(f"sqlite:///{path}")
    try:
        assert store.schema.upgraded_from == "older than 0001"
        rows = store.run_sync(lambda session: session.exec(text("SELECT reconnects, provisioning FROM chargerstate")).all())  # type: ignore[call-overload]
        assert list(rows[0]) == [0, "created"]
        again = Store(f"sqlite:///{path}")
        assert again.schema.upgraded_from is None
        again.close()
    finally:
        store.close()
