"""`ocpp-console tokens import|export|list` on a store, and tokens in the fleet file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from console.cli import main
from console.core.errors import ImportRefused
from console.core.service import ConsoleService

GOOD = "token,type,status,expires_at,parent_id,label,location_ids\nCARD-1,ISO14443,Accepted,2027-01-31T00:00:00Z,FLEET-A,Van 1,\nCARD-2,,Blocked,,,Driver 2,\n"
BAD = "token,type,status,expires_at\nCARD-3,,,\nCARD-4,Barcode,,\n,,,\nCARD-5,,Lost,never\n"


def test_cli_imports_exports_and_lists_tokens(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'console.db'}"
    good = tmp_path / "tokens.csv"
    good.write_text(GOOD)
    assert main(["tokens", "import", str(good), "--db", url]) == 0
    assert "imported 2 tokens" in capsys.readouterr().out

    bad = tmp_path / "bad.csv"
    bad.write_text(BAD)
    assert main(["tokens", "import", str(bad), "--db", url]) == 1
    err = capsys.readouterr().err
    assert "token file refused, nothing imported (4 problems)" in err
    for line in ("row 2 (CARD-4): type:", "row 3: token: required", "row 4 (CARD-5): status:", "row 4 (CARD-5): expires_at:"):
        assert line in err

    assert main(["tokens", "list", "--db", url]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(token["token"], token["status"], token["label"]) for token in listed] == [
        ("CARD-1", "Accepted", "Van 1"), ("CARD-2", "Blocked", "Driver 2"),
    ]  # CARD-3 of the refused file was not imported
    assert main(["tokens", "export", "--db", url]) == 0
    exported = capsys.readouterr().out
    assert exported == (
        "token,type,status,expires_at,parent_id,label,location_ids\n"
        "CARD-1,ISO14443,Accepted,2027-01-31T00:00:00Z,FLEET-A,Van 1,\n"
        "CARD-2,ISO14443,Blocked,,,Driver 2,\n"
    )


async def test_tokens_travel_in_the_fleet_file(service: ConsoleService) -> None:
    document = {
        "locations": [{"id": "loc-yard", "name": "Yard"}],
        "chargers": [{"identity": "CP-1", "location_id": "loc-yard"}],
        "tokens": [{"token": "CARD-1", "label": "Van 1", "location_ids": ["loc-yard"]}, {"token": "CARD-2", "status": "Blocked"}],
    }
    await service.store.run(lambda session: service.fleet.import_fleet(session, document))
    exported = await service.store.run(service.fleet.export_fleet)
    assert [(token["token"], token["location_ids"], token["status"]) for token in exported["tokens"]] == [
        ("CARD-1", ["loc-yard"], "Accepted"), ("CARD-2", [], "Blocked"),
    ]

    bad = {"chargers": [{"identity": "CP-2"}], "tokens": [{"token": "CARD-3", "location_ids": ["loc-nowhere"]}, {"type": "Barcode"}]}
    with pytest.raises(ImportRefused) as refused:
        await service.store.run(lambda session: service.fleet.import_fleet(session, bad))
    assert {(subject, field) for subject, field, _ in refused.value.problems} == {
        ("token row 1 (CARD-3)", "location_ids"), ("token row 2", "token"), ("token row 2", "type"),
    }
    stored = await service.store.run(service.fleet.chargers)
    assert [charger.identity for charger in stored] == ["CP-1"]  # the charger of the refused file was not added


def test_unknown_tokens_are_rejected_by_serve_and_accepted_in_a_lab() -> None:
    from console.cli import _settings, build_parser

    def unknown(*words: str) -> str:
        return _settings(build_parser().parse_args(list(words))).unknown_tokens

    assert unknown("serve") == "reject"  # real chargers
    assert unknown("serve", "--demo") == "accept"  # the sample fleet's simulated chargers
    assert unknown() == "accept"  # the embedded console, a lab
    assert unknown("serve", "--unknown-tokens", "accept") == "accept"
    assert unknown("--unknown-tokens", "reject") == "reject"
