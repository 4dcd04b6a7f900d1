"""Security profiles 1 (Basic auth over ws://) and 2 (Basic auth over wss://), and secrets kept out of sight."""

from __future__ import annotations

import base64
import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from ocpp.routing import on
from ocpp.v16 import ChargePoint as Client16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v16.enums import RegistrationStatus
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from console.cli import _settings, build_parser
from console.core.errors import ConsoleError, ImportRefused
from console.core.passwords import verify_password
from console.core.service import ConsoleService
from console.csms.server import CentralSystem
from console.depot import Depot
from ocpp_clients import charge_point, eventually

PASSWORD = "s3cret-Depot-Pass#42"
WRONG = "not-the-password-at-all"


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def refusal(url: str, **options: Any) -> Any:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, subprotocols=["ocpp1.6"], **options):  # type: ignore[list-item]
            pass
    return refused.value.response


async def boots(url: str, identity: str, **options: Any) -> None:
    async with charge_point(url, identity, **options) as client:
        boot = await client.call(call16.BootNotification(charge_point_vendor="ABB", charge_point_model="Terra AC"))
        assert boot.status == RegistrationStatus.accepted


async def everything_said_about(service: ConsoleService, charger_id: str) -> str:
    """Every log line, the live view and the fleet export, as one text to search for secrets."""
    logs = [entry.message for entry in await service.charger_logs(charger_id)]
    view = json.dumps((await service.get_charger(charger_id)).to_dict())
    export = json.dumps(await service.store.run(service.fleet.export_fleet))
    return "\n".join([*logs, view, export])


# -- profile 1: Basic auth over ws:// ---------------------------------------------------


async def test_profile_1_right_password_is_accepted(service: ConsoleService, central_system: CentralSystem) -> None:
    charger = await service.create_charger({"identity": "P1", "password": PASSWORD})
    assert (await service.get_charger(charger.id)).security_profile == 1
    await boots(central_system.url, "P1", additional_headers=basic("P1", PASSWORD))
    assert (await service.get_charger(charger.id)).provisioning in ("accepted", "offline")
    assert PASSWORD not in await everything_said_about(service, charger.id)


@pytest.mark.parametrize(
    ("headers", "failure"),
    [
        (basic("P1", WRONG), "wrong password"),
        ({}, "missing password"),
        (basic("SOMEONE-ELSE", PASSWORD), "wrong user name 'SOMEONE-ELSE'"),
        ({"Authorization": "Basic not-base64!"}, "missing password"),
        ({"Authorization": "Bearer abc"}, "missing password"),
    ],
)
async def test_profile_1_bad_credentials_are_refused_with_401(
    service: ConsoleService, central_system: CentralSystem, headers: dict[str, str], failure: str
) -> None:
    charger = await service.create_charger({"identity": "P1", "password": PASSWORD})
    response = await refusal(f"{central_system.url}/P1", additional_headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic ")
    view = await service.get_charger(charger.id)
    assert (view.last_failure or "").startswith(failure) and not view.is_connected
    logs = await service.charger_logs(charger.id)
    assert any(entry.message.startswith(f"refused: {failure}") and "HTTP 401" in entry.message for entry in logs)
    said = await everything_said_about(service, charger.id)
    assert PASSWORD not in said and WRONG not in said and "Authorization" not in said
    # The refusal cost the charger nothing: the right password still works.
    await boots(central_system.url, "P1", additional_headers=basic("P1", PASSWORD))


async def test_a_charger_without_password_needs_no_auth(service: ConsoleService, central_system: CentralSystem) -> None:
    charger = await service.create_charger({"identity": "P0"})
    assert (await service.get_charger(charger.id)).security_profile == 0
    await boots(central_system.url, "P0")


async def test_a_new_password_from_the_fleet_service_replaces_the_old(
    service: ConsoleService, central_system: CentralSystem
) -> None:
    charger = await service.create_charger({"identity": "P1", "password": PASSWORD})
    await boots(central_system.url, "P1", additional_headers=basic("P1", PASSWORD))
    await service.update_charger(charger.id, {"password": "another-Pass-0987654"})
    # The good check of the old password is remembered, but against the old hash only.
    assert (await refusal(f"{central_system.url}/P1", additional_headers=basic("P1", PASSWORD))).status_code == 401
    await boots(central_system.url, "P1", additional_headers=basic("P1", "another-Pass-0987654"))


# -- profile 2: Basic auth over TLS -----------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def tls_central_system(service: ConsoleService, ca: trustme.CA) -> AsyncIterator[CentralSystem]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    central = CentralSystem(service, port=0, ssl_context=context)
    await central.start()
    yield central
    await central.stop()


@pytest.fixture
def trusting(ca: trustme.CA) -> ssl.SSLContext:
    """What a charger (or our simulator) needs: a client context that trusts the depot's CA."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


async def test_profile_2_right_password_over_tls(
    service: ConsoleService, tls_central_system: CentralSystem, trusting: ssl.SSLContext
) -> None:
    assert tls_central_system.url.startswith("wss://")
    charger = await service.create_charger({"identity": "P2", "password": PASSWORD})
    assert (await service.get_charger(charger.id)).security_profile == 2
    await boots(tls_central_system.url, "P2", ssl=trusting, additional_headers=basic("P2", PASSWORD))
    assert PASSWORD not in await everything_said_about(service, charger.id)


async def test_profile_2_wrong_password_over_tls_is_refused(
    service: ConsoleService, tls_central_system: CentralSystem, trusting: ssl.SSLContext
) -> None:
    charger = await service.create_charger({"identity": "P2", "password": PASSWORD})
    response = await refusal(f"{tls_central_system.url}/P2", ssl=trusting, additional_headers=basic("P2", WRONG))
    assert response.status_code == 401
    assert (await service.get_charger(charger.id)).last_failure == "wrong password"
    assert (await refusal(f"{tls_central_system.url}/P2", ssl=trusting)).status_code == 401


async def test_profile_2_client_that_does_not_trust_the_certificate_cannot_connect(
    service: ConsoleService, tls_central_system: CentralSystem
) -> None:
    await service.create_charger({"identity": "P2", "password": PASSWORD})
    with pytest.raises(ssl.SSLCertVerificationError):
        async with connect(f"{tls_central_system.url}/P2", subprotocols=["ocpp1.6"], additional_headers=basic("P2", PASSWORD)):  # type: ignore[list-item]
            pass


# -- the command line ---------------------------------------------------------------------


def test_tls_options_give_the_depot_a_wss_listener(tmp_path: Path, ca: trustme.CA) -> None:
    cert, key = tmp_path / "depot.pem", tmp_path / "depot.key"
    issued = ca.issue_cert("127.0.0.1")
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    for command in ([], ["serve"]):
        args = build_parser().parse_args(
            [*command, "--db", f"sqlite:///{tmp_path / 'depot.db'}", "--ocpp-port", "0", "--tls-cert", str(cert), "--tls-key", str(key)]
        )
        depot = Depot(_settings(args))
        try:
            assert depot.central.ssl_context is not None and depot.central.scheme == "wss"
        finally:
            depot.store.close()


def test_tls_needs_both_files_that_load(tmp_path: Path) -> None:
    (tmp_path / "junk.pem").write_text("not a certificate")
    for options in (
        ["--tls-cert", str(tmp_path / "junk.pem")],
        ["--tls-cert", str(tmp_path / "junk.pem"), "--tls-key", str(tmp_path / "junk.pem")],
        ["--tls-cert", str(tmp_path / "missing.pem"), "--tls-key", str(tmp_path / "missing.key")],
    ):
        args = build_parser().parse_args(["serve", "--db", f"sqlite:///{tmp_path / 'depot.db'}", *options])
        with pytest.raises(ConsoleError, match="TLS"):
            Depot(_settings(args))


# -- secrets stay out of logs, exports and views --------------------------------------------


async def test_fleet_import_takes_passwords_and_export_leaves_them_out(service: ConsoleService) -> None:
    document = {
        "locations": [{"id": "loc-1", "name": "Depot North"}],
        "chargers": [
            {"identity": "IMP-1", "location_id": "loc-1", "password": PASSWORD},
            {"identity": "IMP-2", "location_id": "loc-1"},
        ],
    }
    await service.store.run(lambda session: service.fleet.import_fleet(session, document))
    stored = {charger.identity: charger for charger in await service.store.run(service.fleet.chargers)}
    assert stored["IMP-1"].password_hash is not None and verify_password(PASSWORD, stored["IMP-1"].password_hash)
    assert PASSWORD not in stored["IMP-1"].password_hash
    assert stored["IMP-2"].password_hash is None
    exported = await service.store.run(service.fleet.export_fleet)
    text = json.dumps(exported)
    assert PASSWORD not in text and "password" not in text and "scrypt" not in text
    assert {charger["identity"] for charger in exported["chargers"]} == {"IMP-1", "IMP-2"}


async def test_a_bad_password_in_an_import_is_refused_by_field(service: ConsoleService) -> None:
    document = {"chargers": [{"identity": "IMP-3", "password": "Xq7-secret"}]}
    with pytest.raises(ImportRefused) as refused:
        await service.store.run(lambda session: service.fleet.import_fleet(session, document))
    assert any(field == "password" for _, field, _ in refused.value.problems)
    assert "Xq7-secret" not in str(refused.value)


async def test_a_password_set_over_ocpp_is_masked_in_the_frame_log(
    service: ConsoleService, central_system: CentralSystem
) -> None:
    charger = await service.create_charger({"identity": "CFG"})

    class Configurable(Client16):
        @on("ChangeConfiguration")
        def on_change_configuration(self, key: str, value: str) -> result16.ChangeConfiguration:
            return result16.ChangeConfiguration(status="Accepted")

    async with charge_point(central_system.url, "CFG", client=Configurable):
        await eventually(lambda: central_system.is_connected("CFG"))
        answer = await central_system.call("CFG", "ChangeConfiguration", {"key": "AuthorizationKey", "value": PASSWORD})
        assert answer == {"status": "Accepted"}
    frames = [entry for entry in await service.charger_logs(charger.id) if entry.action == "ChangeConfiguration"]
    assert frames and all(PASSWORD not in entry.message for entry in frames)
    assert '"value":"********"' in frames[0].message


async def test_the_authorization_header_is_masked_even_in_websockets_debug_log(
    service: ConsoleService, central_system: CentralSystem, caplog: pytest.LogCaptureFixture
) -> None:
    await service.create_charger({"identity": "P1", "password": PASSWORD})
    with caplog.at_level("DEBUG", logger="websockets.server"):
        await boots(central_system.url, "P1", additional_headers=basic("P1", PASSWORD))
        await refusal(f"{central_system.url}/P1", additional_headers=basic("P1", WRONG))
    assert "< Authorization: ********" in caplog.text
    secrets = (PASSWORD, WRONG, basic("P1", PASSWORD)["Authorization"], basic("P1", WRONG)["Authorization"])
    assert not any(secret in caplog.text for secret in secrets)


async def test_a_password_set_over_ocpp_is_not_kept_in_the_action(service, central_system) -> None:  # type: ignore[no-untyped-def]
    from ocpp.routing import on
    from ocpp.v16 import ChargePoint as Client16
    from ocpp.v16 import call_result as result16

    from ocpp_clients import charge_point, eventually

    class Configurable(Client16):
        @on("ChangeConfiguration")
        def change(self, key: str, value: str):  # type: ignore[no-untyped-def]
            return result16.ChangeConfiguration(status="Accepted")

    charger = await service.create_charger({"identity": "SECRET-1"})
    async with charge_point(central_system.url, "SECRET-1", client=Configurable):
        await eventually(lambda: central_system.is_connected("SECRET-1"))
        result = await service.set_configuration(charger.id, "AuthorizationKey", "s3cret-passw0rd-16")
    assert result.state == "acknowledged"
    (action,) = [a for a in await service.list_actions(charger.id) if a.operation == "ChangeConfiguration"]
    assert "s3cret-passw0rd-16" not in str(action.parameters) and action.parameters["value"] == "********"
