"""What one API client may cost: body caps, the key checked before the body, rate limits, failed keys counted,
event streams per key, slow and idle connections, the API's own address and TLS.

Each test runs the real API on uvicorn on a loopback port; raw sockets play the
clients that httpx is too polite to be.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import trustme
from apitools import Api, load
from test_deployments import assert_error

from console.api import limits as limits_module
from console.api.limits import ApiLimits, ConnectionGuard
from console.api.server import ApiServer
from console.core.service import ConsoleService

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "csms"))
from ocpp_clients import charge_point  # noqa: E402  (the real OCPP clients of tests/csms)


async def raw(server: ApiServer, request: bytes) -> asyncio.StreamReader:
    """Send `request` (headers, maybe part of a body) on a new connection; the reader of its answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(request)
    await writer.drain()
    reader._keep = writer  # type: ignore[attr-defined]  # the connection stays open while the reader is used
    return reader


async def answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], dict]:
    """Status, headers and JSON body of one HTTP/1.1 answer."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:] if line)}
    body = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), 5)
    return status, headers, json.loads(body)


def post(path: str, length: int, key: str | None = None, first: bytes = b"{") -> bytes:
    auth = f"x-api-key: {key}\r\n" if key else ""
    return (
        f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n{auth}Content-Length: {length}\r\n\r\n"
    ).encode() + first


@pytest.fixture
async def limited(service: ConsoleService, request: pytest.FixtureRequest) -> AsyncIterator[Api]:
    """The API with the limits the test names (`@pytest.mark.parametrize("limited", [ApiLimits(...)], indirect=True)`)."""
    load(service)
    _, key = await service.create_api_key("default")
    _, acme_key = await service.create_api_key("acme")
    server = ApiServer(service, port=0, environment="test", heartbeat_s=0.2, limits=request.param)
    await server.start()
    async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
        yield Api(server, service, service.clock, server.url, key, acme_key, client)  # type: ignore[arg-type]
    await server.stop()


# -- bodies ------------------------------------------------------------------------------


async def test_the_key_is_checked_before_a_byte_of_the_body_is_read(api: Api) -> None:
    # 35 MB announced, one byte sent: the answer comes at once, without waiting for (or parsing) the rest.
    reader = await raw(api.server, post("/console/chargers", 35_000_000))
    status, headers, body = await answer(reader)
    assert status == 401 and body["error"]["code"] == "UNAUTHORIZED" and headers["x-request-id"] == body["meta"]["requestId"]
    reader = await raw(api.server, post("/console/chargers", 500, key="ocpp_sk_wrong"))
    assert (await answer(reader))[0] == 401


async def test_a_body_over_the_cap_is_refused_with_413_in_the_envelope(api: Api) -> None:
    # Announced: refused from the Content-Length, before the body.
    reader = await raw(api.server, post("/console/chargers", 2 * 1024 * 1024, key=api.key))
    status, headers, body = await answer(reader)
    assert status == 413 and body["success"] is False and body["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert "1048576" in body["error"]["message"]
    # Streamed without a length: refused once the cap is passed.

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "'
        for _ in range(20):
            yield b"x" * 100_000
        yield b'"}'

    response = await api.client.post("/console/chargers", headers=api.x_api_key(), content=chunks())
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    # Under the cap all is as before.
    response = await api.client.post("/console/chargers/check", headers=api.x_api_key(), json={"fields": {"identity": "CP-NEW"}})
    assert response.status_code == 200


@pytest.mark.parametrize("limited", [ApiLimits(max_body_bytes=64 * 1024)], indirect=True)
async def test_the_cap_is_configurable(limited: Api) -> None:
    response = await limited.client.post("/console/chargers/check", headers=limited.x_api_key(), json={"fields": {"name": "x" * 70_000}})
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")


async def test_a_body_with_many_bad_fields_gets_a_bounded_answer(api: Api) -> None:
    body = {"fields": {}, **{f"unexpected_field_{number}_{'y' * 300}": number for number in range(2_000)}}
    response = await api.client.post("/console/chargers/check", headers=api.x_api_key(), json=body)
    error = assert_error(response, 422, "VALIDATION_ERROR")["error"]
    assert len(response.content) < 10_000
    assert len(error["details"]) == 20 and all(len(item["field"]) <= 200 for item in error["details"])
    assert error["message"].endswith("and 1995 more")


# -- rates and failed keys -----------------------------------------------------------------


@pytest.mark.parametrize("limited", [ApiLimits(key_rate=0.5, key_burst=3)], indirect=True)
async def test_each_key_has_its_rate_and_is_told_when_to_come_back(limited: Api) -> None:
    for _ in range(3):
        assert (await limited.client.get("/ocpp/chargers", headers=limited.bearer())).status_code == 200
    refused = await limited.client.get("/ocpp/chargers", headers=limited.bearer())
    assert_error(refused, 429, "RATE_LIMITED")
    assert 1 <= int(refused.headers["Retry-After"]) <= 2
    # Another key (same address) is not held back by the first.
    assert (await limited.client.get("/ocpp/chargers", headers=limited.bearer(limited.acme_key))).status_code == 200


@pytest.mark.parametrize("limited", [ApiLimits(address_rate=0.5, address_burst=5)], indirect=True)
async def test_each_address_has_its_rate_with_or_without_a_key(limited: Api) -> None:
    for _ in range(5):
        assert (await limited.client.get("/health")).status_code == 200
    refused = await limited.client.get("/ocpp/chargers", headers=limited.bearer())
    assert_error(refused, 429, "RATE_LIMITED")
    assert int(refused.headers["Retry-After"]) >= 1


async def test_failed_authentications_are_counted_and_logged(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "console.api")
    for number in range(3):
        assert_error(await api.client.get("/ev-charger", headers={"x-api-key": f"ocpp_sk_guess{number}"}), 401, "UNAUTHORIZED")
    health = (await api.client.get("/health", headers=api.x_api_key())).json()["data"]
    assert health["api"]["failed_authentications"] == 3
    said = [record.getMessage() for record in caplog.records if "refused an invalid API key" in record.getMessage()]
    assert len(said) == 1 and "127.0.0.1" in said[0]  # once a minute per address, not once per guess
    # A key given to /health is checked as anywhere else.
    assert_error(await api.client.get("/health", headers={"x-api-key": "ocpp_sk_nope"}), 401, "UNAUTHORIZED")


@pytest.mark.parametrize("limited", [ApiLimits(address_rate=0.1, address_burst=25, failed_auth_cost=10)], indirect=True)
async def test_guessing_keys_runs_out_of_tries_fast(limited: Api) -> None:
    statuses = [(await limited.client.get("/ev-charger", headers={"x-api-key": f"ocpp_sk_{n}"})).status_code for n in range(5)]
    assert statuses[:3] == [401, 401, 401] and statuses[-1] == 429


# -- /health -------------------------------------------------------------------------------


async def test_health_details_need_a_key_and_are_the_organizations(api: Api) -> None:
    anonymous = (await api.client.get("/health")).json()["data"]
    assert set(anonymous) == {"status"}
    mine = (await api.client.get("/health", headers=api.bearer())).json()["data"]
    theirs = (await api.client.get("/health", headers=api.bearer(api.acme_key))).json()["data"]
    assert mine["counts"]["chargers"] == 3 and theirs["counts"]["chargers"] == 2
    assert mine["store"]["writable"] is True


# -- event streams -------------------------------------------------------------------------


@pytest.mark.parametrize("limited", [ApiLimits(streams_per_key=2)], indirect=True)
async def test_event_streams_are_limited_per_key(limited: Api) -> None:
    async with limited.client.stream("GET", "/events", headers=limited.bearer()) as first, limited.client.stream(
        "GET", "/events", headers=limited.bearer()
    ) as second:
        assert first.status_code == second.status_code == 200
        third = await limited.client.get("/events", headers=limited.bearer())
        assert_error(third, 429, "TOO_MANY_STREAMS")
        assert third.headers["Retry-After"]
        async with limited.client.stream("GET", "/events", headers=limited.bearer(limited.acme_key)) as other:
            assert other.status_code == 200
    # Closed streams give their places back.
    for _ in range(100):
        if limited.server.app.state.events.open_streams() == 0:
            break
        await asyncio.sleep(0.02)
    async with limited.client.stream("GET", "/events", headers=limited.bearer()) as again:
        assert again.status_code == 200


async def test_a_revoked_keys_streams_end_at_once(api: Api) -> None:
    view, key = await api.service.create_api_key("default", "soon revoked")
    async with api.client.stream("GET", "/events", headers=api.bearer(key)) as stream, api.client.stream(
        "GET", "/events", headers=api.bearer()
    ) as kept:
        lines = stream.aiter_lines()
        assert await anext(lines) == ": connected"
        await api.service.revoke_api_key(view.id)

        async def to_the_end() -> list[str]:
            return [line async for line in lines]

        rest = await asyncio.wait_for(to_the_end(), 5)  # the hub checks the keys of open streams every second
        # After the revocation, nothing of the organization's reaches it: it ended.
        assert not any(line.startswith("event:") for line in rest)
        await api.service.update_charger("dep-a01", {"name": "After the revocation"})
        other = kept.aiter_lines()
        seen = []
        while not any("After the revocation" in line for line in seen):
            seen.append(await asyncio.wait_for(anext(other), 5))


async def test_each_event_is_encoded_once_for_all_streams_of_an_organization(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from console.api import events as events_module

    encoded: list[str] = []
    original = events_module.encode_event

    def counting(event):  # type: ignore[no-untyped-def]
        result = original(event)
        if result is not None and result[0] == "charger":
            encoded.append(result[1]["name"])
        return result

    monkeypatch.setattr(events_module, "encode_event", counting)
    headers = [api.bearer(), api.x_api_key(), api.bearer()]
    async with api.client.stream("GET", "/events", headers=headers[0]) as one, api.client.stream(
        "GET", "/events", headers=headers[1]
    ) as two, api.client.stream("GET", "/events", headers=headers[2]) as three:
        streams = [one.aiter_lines(), two.aiter_lines(), three.aiter_lines()]
        for lines in streams:
            assert await anext(lines) == ": connected"
        await api.service.update_charger("dep-a01", {"name": "Once"})
        for lines in streams:
            line = ""
            while "Once" not in line:
                line = await asyncio.wait_for(anext(lines), 5)
    assert encoded.count("Once") == 1


# -- connections -----------------------------------------------------------------------------


@pytest.mark.parametrize("limited", [ApiLimits(header_timeout_s=0.3, max_connections_per_address=4)], indirect=True)
async def test_slow_and_surplus_connections_are_cut_off_and_the_api_still_answers(limited: Api) -> None:
    # Headers that never finish: held for the header deadline, then closed.
    slow = await raw(limited.server, b"GET /health HTTP/1.1\r\nHost: test\r\nX-Slow: ")
    started = asyncio.get_running_loop().time()
    assert await asyncio.wait_for(slow.read(), 5) == b""
    assert asyncio.get_running_loop().time() - started < 3
    # More connections from one address than it may have: the surplus is closed at once.
    held = [await raw(limited.server, b"GET /health HTTP/1.1\r\nHost: test\r\n") for _ in range(4)]
    surplus = await raw(limited.server, b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n")
    assert await asyncio.wait_for(surplus.read(), 2) == b""
    assert limited.server.guard.refused >= 1
    for reader in held:  # each cut off by the deadline in turn
        assert await asyncio.wait_for(reader.read(), 5) == b""
    assert limited.server.guard.timed_out >= 5
    # Once they are gone, the API answers again; a connection kept alive between requests is not cut.
    assert (await limited.client.get("/health")).status_code == 200
    await asyncio.sleep(0.1)
    assert (await limited.client.get("/health")).status_code == 200


def test_the_api_keeps_most_open_files_for_chargers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits_module, "open_files_limit", lambda: 1024)
    assert ConnectionGuard(ApiLimits(max_connections=1000)).max_connections == 256
    monkeypatch.setattr(limits_module, "open_files_limit", lambda: 1_048_576)
    assert ConnectionGuard(ApiLimits(max_connections=1000)).max_connections == 1000


@pytest.mark.parametrize("limited", [ApiLimits(header_timeout_s=0.5, max_connections=8, max_connections_per_address=100)], indirect=True)
async def test_chargers_connect_while_the_api_port_is_flooded(limited: Api, service: ConsoleService) -> None:
    from ocpp.v16 import call

    from console.csms.server import CentralSystem

    central = CentralSystem(service, port=0, heartbeat_interval=30, call_timeout=2)
    await central.start()
    try:
        flood = [await raw(limited.server, b"GET /health HTTP/1.1\r\nHost: test\r\n") for _ in range(30)]
        async with charge_point(central.url, "CP-A02") as cp:
            answered = await asyncio.wait_for(
                cp.call(call.BootNotification(charge_point_vendor="Wallbox", charge_point_model="Pulsar Plus")), 5
            )
            assert answered.status == "Accepted"
        assert limited.server.guard.open <= 8 and limited.server.guard.refused >= 22
        for reader in flood:
            reader._keep.close()  # type: ignore[attr-defined]
    finally:
        await central.stop()


# -- where the API listens ----------------------------------------------------------------------


def test_serve_binds_the_api_to_loopback_whatever_host_says() -> None:
    from console.cli import _settings, build_parser

    settings = _settings(build_parser().parse_args(["serve", "--host", "0.0.0.0"]))
    assert settings.host == "0.0.0.0" and settings.api_host == "127.0.0.1"
    settings = _settings(build_parser().parse_args(
        ["serve", "--host", "0.0.0.0", "--api-host", "0.0.0.0", "--api-max-body", "4096", "--events-retention", "2", "--events-max", "500"]
    ))
    assert settings.api_host == "0.0.0.0" and settings.api_limits.max_body_bytes == 4096
    assert settings.event_log.retention_s == 7200 and settings.event_log.max_events == 500


async def test_the_api_serves_https_with_a_certificate(service: ConsoleService, tmp_path: Path) -> None:
    ca = trustme.CA()
    cert, key = tmp_path / "api.pem", tmp_path / "api.key"
    issued = ca.issue_cert("127.0.0.1")
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    server = ApiServer(service, port=0, tls_cert=cert, tls_key=key)
    await server.start()
    try:
        assert server.url.startswith("https://127.0.0.1:")
        trusting = ssl.create_default_context()
        ca.configure_trust(trusting)
        async with httpx.AsyncClient(base_url=server.url, verify=trusting, timeout=5) as client:
            assert (await client.get("/health")).status_code == 200
        async with httpx.AsyncClient(base_url=server.url.replace("https", "http"), timeout=5) as plain:
            with pytest.raises(httpx.HTTPError):
                await plain.get("/health")
    finally:
        await server.stop()


def test_api_tls_needs_both_files_that_load(service: ConsoleService, tmp_path: Path) -> None:
    from console.core.errors import ConsoleError

    (tmp_path / "junk.pem").write_text("not a certificate")
    with pytest.raises(ConsoleError, match="both"):
        ApiServer(service, port=0, tls_cert=tmp_path / "junk.pem")
    with pytest.raises(ConsoleError, match="cannot load"):
        ApiServer(service, port=0, tls_cert=tmp_path / "junk.pem", tls_key=tmp_path / "junk.pem")
