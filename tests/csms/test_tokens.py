"""Id tokens: chargers of both versions are answered from the registry, as raw OCPP-J frames over a real WebSocket.

Unknown tokens per the setting, blocked, expired (by status or by time), valid with
parent/group and expiry, and a token valid at other locations only; a blocked
token's running session is reported; a token file with bad rows is refused whole.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime, timezone

import pytest

from console.core.clock import ManualClock
from console.core.errors import Conflict, ImportRefused, ValidationFailed
from console.core.events import Notice
from console.core.models import Location
from console.core.service import ConsoleService
from console.core.tokens import REJECT, read_csv
from console.csms.server import CentralSystem
from test_replay import RawCharger, event, online201, raw_charger

pytestmark = pytest.mark.stores("sqlite", "postgresql")

T0 = "2026-04-02T09:15:00Z"  # the manual clock's time
LATER = "2027-01-31T00:00:00Z"
EARLIER = "2026-03-01T00:00:00Z"


async def a_location(service: ConsoleService, name: str) -> str:
    now = datetime(2026, 4, 2, tzinfo=timezone.utc)
    location = Location(organization_id="org-default", name=name, created_at=now, updated_at=now)

    def write(session) -> str:  # type: ignore[no-untyped-def]
        session.add(location)
        session.commit()
        return location.id

    return await service.store.run(write)


async def registry(service: ConsoleService, elsewhere: str) -> None:
    for fields in (
        {"token": "VALID-1", "parent_id": "FLEET-A", "expires_at": LATER, "label": "Van 12"},
        {"token": "BLOCKED-1", "status": "Blocked"},
        {"token": "EXPIRED-1", "status": "Expired"},
        {"token": "LAPSED-1", "expires_at": EARLIER},
        {"token": "ELSEWHERE-1", "location_ids": [elsewhere]},
        {"token": "ABCD1234", "type": "eMAID", "parent_id": "FLEET-B"},
    ):
        await service.save_token(fields)


@pytest.fixture
async def charger16(service: ConsoleService) -> str:
    return (await service.create_charger({"identity": "RP-16", "number_of_connectors": 2})).id


@contextlib.asynccontextmanager
async def online16(central: CentralSystem) -> AsyncIterator[RawCharger]:
    async with raw_charger(central, "RP-16", "ocpp1.6") as charger:
        boot = await charger.send("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
        assert boot[2]["status"] == "Accepted"
        yield charger


@pytest.fixture(params=["ocpp2.0.1", "ocpp2.1"])
async def station(request: pytest.FixtureRequest, service: ConsoleService) -> tuple[str, str]:
    version = {"ocpp2.0.1": "OCPP2.0.1", "ocpp2.1": "OCPP2.1"}[request.param]
    charger = await service.create_charger({"identity": "RP-201", "ocpp_version": version})
    return charger.id, request.param


async def authorize16(charger: RawCharger, id_tag: str) -> dict:
    answer = await charger.send("Authorize", {"idTag": id_tag})
    assert answer[0] == 3, answer
    return answer[2]["idTagInfo"]


async def authorize201(charger: RawCharger, token: str, kind: str = "ISO14443") -> dict:
    answer = await charger.send("Authorize", {"idToken": {"idToken": token, "type": kind}})
    assert answer[0] == 3, answer
    return answer[2]["idTokenInfo"]


async def test_a_16_charger_is_answered_from_the_registry(
    service: ConsoleService, central_system: CentralSystem, charger16: str
) -> None:
    await registry(service, await a_location(service, "Elsewhere"))
    async with online16(central_system) as charger:
        assert await authorize16(charger, "VALID-1") == {
            "status": "Accepted", "expiryDate": "2027-01-31T00:00:00Z", "parentIdTag": "FLEET-A"
        }
        assert await authorize16(charger, "valid-1") == (await authorize16(charger, "VALID-1"))  # case-insensitive
        assert await authorize16(charger, "BLOCKED-1") == {"status": "Blocked"}
        assert await authorize16(charger, "EXPIRED-1") == {"status": "Expired"}
        assert (await authorize16(charger, "LAPSED-1"))["status"] == "Expired"  # past its expiry
        assert await authorize16(charger, "ELSEWHERE-1") == {"status": "Invalid"}  # 1.6 has no "not at this location"
        assert await authorize16(charger, "ABCD1234") == {"status": "Accepted", "parentIdTag": "FLEET-B"}  # any type
        assert await authorize16(charger, "NOBODY") == {"status": "Accepted"}  # unknown: the lab's default
        service.tokens.unknown = REJECT
        assert await authorize16(charger, "NOBODY") == {"status": "Invalid"}

        start = {"connectorId": 1, "idTag": "BLOCKED-1", "meterStart": 0, "timestamp": T0}
        answer = await charger.send("StartTransaction", start)
        assert answer[0] == 3 and answer[2]["idTagInfo"] == {"status": "Blocked"}
        answer = await charger.send("StartTransaction", {**start, "connectorId": 2, "idTag": "VALID-1"})
        assert answer[2]["idTagInfo"]["parentIdTag"] == "FLEET-A"


async def test_a_201_station_is_answered_from_the_registry(
    service: ConsoleService, central_system: CentralSystem, station: tuple[str, str]
) -> None:
    _, subprotocol = station
    await registry(service, await a_location(service, "Elsewhere"))
    async with online201(central_system, subprotocol) as charger:
        assert await authorize201(charger, "VALID-1") == {
            "status": "Accepted", "cacheExpiryDateTime": "2027-01-31T00:00:00Z",
            "groupIdToken": {"idToken": "FLEET-A", "type": "Central"},
        }
        assert await authorize201(charger, "BLOCKED-1") == {"status": "Blocked"}
        assert await authorize201(charger, "EXPIRED-1") == {"status": "Expired"}
        assert (await authorize201(charger, "LAPSED-1"))["status"] == "Expired"
        assert await authorize201(charger, "ELSEWHERE-1") == {"status": "NotAtThisLocation"}
        assert (await authorize201(charger, "ABCD1234", "eMAID"))["groupIdToken"]["idToken"] == "FLEET-B"
        assert await authorize201(charger, "ABCD1234", "KeyCode") == {"status": "Accepted"}  # another type: unknown
        service.tokens.unknown = REJECT
        assert await authorize201(charger, "ABCD1234", "KeyCode") == {"status": "Invalid"}

        started = event("Started", 0, T0, "tx-b", idToken={"idToken": "BLOCKED-1", "type": "ISO14443"})
        answer = await charger.send("TransactionEvent", started)
        assert answer[0] == 3 and answer[2] == {"idTokenInfo": {"status": "Blocked"}}
        updated = event("Updated", 1, T0, "tx-b")
        assert (await charger.send("TransactionEvent", updated))[2] == {}  # no token, no idTokenInfo


async def test_blocking_a_token_reports_its_running_session(
    service: ConsoleService, central_system: CentralSystem, charger16: str
) -> None:
    token = await service.save_token({"token": "CARD-9", "label": "Driver Jones"})
    notices = service.subscribe(kinds=(Notice,), frames=False)
    async with online16(central_system) as charger:
        start = {"connectorId": 1, "idTag": "CARD-9", "meterStart": 0, "timestamp": T0}
        assert (await charger.send("StartTransaction", start))[2]["idTagInfo"] == {"status": "Accepted"}
        blocked = await service.save_token({"status": "Blocked"}, token.id)
        assert blocked.status == "Blocked" and blocked.label == "Driver Jones"
        notice = await asyncio.wait_for(anext(notices), 5)
        assert "CARD-9 is blocked" in notice.message and "RP-16 connector 1 is running" in notice.message
        assert notice.charger_id == charger16
        assert await authorize16(charger, "CARD-9") == {"status": "Blocked"}
    notices.close()


async def test_token_records_are_checked(service: ConsoleService, clock: ManualClock) -> None:
    with pytest.raises(ValidationFailed) as refused:
        await service.save_token({"token": "X" * 37, "type": "Barcode", "status": "Lost", "expires_at": "soon"})
    assert set(refused.value.problems) == {"token", "type", "status", "expires_at"}
    await service.save_token({"token": "CARD-1"})
    with pytest.raises(Conflict):
        await service.save_token({"token": "card-1"})
    await service.save_token({"token": "CARD-1", "type": "KeyCode"})  # the same token of another type is another token
    assert [(view.token, view.type) for view in await service.list_tokens()] == [("CARD-1", "ISO14443"), ("CARD-1", "KeyCode")]


async def test_a_token_file_with_bad_rows_is_refused_whole_with_every_bad_row_listed(service: ConsoleService) -> None:
    await service.save_token({"token": "KEEP-1", "label": "before"})
    text = (
        "token,type,status,expires_at,parent_id,label,location_ids\n"
        "GOOD-1,ISO14443,Accepted,2027-01-31T00:00:00Z,FLEET-A,Van 1,\n"
        ",ISO14443,Accepted,,,no token,\n"
        "BAD-2,Barcode,Accepted,,,,\n"
        "BAD-3,ISO14443,Lost,tomorrow,,,\n"
        "KEEP-1,ISO14443,Blocked,,,after,\n"
        "GOOD-1,ISO14443,Accepted,,,twice,\n"
        "BAD-4,ISO14443,Accepted,,,,nowhere\n"
    )
    with pytest.raises(ImportRefused) as refused:
        await service.import_tokens(read_csv(text))
    problems = {(subject, field) for subject, field, _ in refused.value.problems}
    assert problems == {
        ("row 2", "token"), ("row 3 (BAD-2)", "type"), ("row 4 (BAD-3)", "status"), ("row 4 (BAD-3)", "expires_at"),
        ("row 6 (GOOD-1)", "token"), ("row 7 (BAD-4)", "location_ids"),
    }
    assert "token file refused, nothing imported (6 problems)" in str(refused.value)
    [kept] = await service.list_tokens()  # nothing half-imported
    assert (kept.token, kept.status, kept.label) == ("KEEP-1", "Accepted", "before")

    good = "\n".join(line for line in text.splitlines() if not line.startswith(("BAD", ",", "GOOD-1,ISO14443,Accepted,,")))
    assert await service.import_tokens(read_csv(good)) == 2
    tokens = {view.token: view for view in await service.list_tokens()}
    assert (tokens["KEEP-1"].status, tokens["KEEP-1"].label) == ("Blocked", "after")  # a held token is changed
    assert tokens["GOOD-1"].parent_id == "FLEET-A" and tokens["GOOD-1"].expires_at == datetime(2027, 1, 31, tzinfo=timezone.utc)


async def test_the_registry_survives_a_restart(service: ConsoleService, clock: ManualClock) -> None:
    await service.save_token({"token": "CARD-1", "status": "Blocked", "label": "Van 3"})
    again = ConsoleService(service.store, clock=clock)
    await again.open()
    try:
        assert again.tokens.authorize("org-default", "CARD-1").status == "Blocked"
        assert again.tokens.label("org-default", "card-1") == "Van 3"
    finally:
        await again.close()
