"""Firmware updates and log uploads: the files the console serves and receives, the requests, rolling updates.

- `FileShelf` keeps files in a directory beside the store, each bounded in size:
  firmware images an operator adds (served to chargers at an unguessable URL)
  and the diagnostics and log files chargers upload (kept per charger, listed
  and downloaded). A file is written to a partial file and moved into place
  only once it arrived whole, so an upload over the limit or cut short changes
  nothing.
- The request builders give each version's payload: 1.6 UpdateFirmware and
  GetDiagnostics, the 1.6 security extension's SignedUpdateFirmware and GetLog,
  2.0.1 UpdateFirmware (with its signing fields) and GetLog.
- `Firmware` runs them through the console's one road (`ConsoleService.operate`,
  so the action ledger records each) and runs rolling updates over a set of
  chargers, N at a time, stopping on the first failure.

The charger reaches the files over HTTP(S) at `base_url`: the REST API of
`serve`, or the embedded console's own small file server on loopback.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import secrets
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import platformdirs
from sqlalchemy.engine import make_url

from console.core.clock import Clock
from console.core.errors import ConsoleError, NotFound, Unavailable, ValidationFailed
from console.core.events import EventBus, Notice
from console.core.live import LiveState
from console.core.operations import OperationResult
from console.core.views import View, iso
from console.core.versions import OcppVersion

FIRMWARE_MAX_BYTES = 256 * 1024 * 1024
UPLOAD_MAX_BYTES = 32 * 1024 * 1024
LOG_TYPES = ("DiagnosticsLog", "SecurityLog")
# A charger's upload URL stays open this long after the request that gave it.
UPLOAD_SLOT_TTL = timedelta(hours=24)
# FirmwareStatusNotification: what ends an update, well or not (1.6 and 2.0.1 words).
INSTALLED = "Installed"
FIRMWARE_FAILURES = frozenset({"DownloadFailed", "InstallationFailed", "InstallVerificationFailed", "InvalidSignature"})
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,119}$")
CHUNK = 64 * 1024


class FileRefused(ConsoleError):
    """A file that was not kept: too large, cut short, badly named. Nothing was changed."""

    code = "FILE_REFUSED"


class FileTooLarge(FileRefused):
    code = "PAYLOAD_TOO_LARGE"


class FileTruncated(FileRefused):
    code = "TRUNCATED"


@dataclass(frozen=True, slots=True)
class StoredFile(View):
    """A firmware image the console serves, or a diagnostics/log file a charger uploaded."""

    id: str
    kind: str  # firmware | DiagnosticsLog | SecurityLog
    name: str
    size: int
    sha256: str
    stored_at: datetime
    charger_id: str | None = None
    identity: str | None = None
    request_id: int | None = None
    # Where a charger fetches a firmware image (set when the console has a file server).
    url: str | None = None


@dataclass(frozen=True, slots=True)
class RolloutView(View):
    """A rolling firmware update: chargers in order, `batch` at a time, stopped by the first failure."""

    id: str
    location: str
    batch: int
    state: str  # running | completed | stopped
    pending: tuple[str, ...]
    running: tuple[str, ...]
    installed: tuple[str, ...]
    failed: tuple[str, ...]
    detail: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    # charger id -> the last firmware status it reported during the rollout.
    statuses: dict[str, str] = field(default_factory=dict)


def files_dir_for(store_url: str) -> Path:
    """The directory beside the store: `<db>-files` next to a SQLite file, else the user's data directory."""
    url = make_url(store_url)
    database = url.database
    if url.get_backend_name() == "sqlite" and database and database != ":memory:":
        path = Path(database).expanduser()
        return path.with_name(path.name + "-files")
    return Path(platformdirs.user_data_dir("ocpp-console")) / "files"


def safe_name(name: str | None, fallback: str) -> str:
    """A file name as kept: its last path part, if it is a plain name; else `fallback`."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    return base if _NAME.match(base) and base not in (".", "..") else fallback


class FileShelf:
    """Files on disk, each in its own directory with a `meta.json` beside it."""

    def __init__(self, root: Path, firmware_max: int = FIRMWARE_MAX_BYTES, upload_max: int = UPLOAD_MAX_BYTES) -> None:
        self.root = root
        self.firmware_max = firmware_max
        self.upload_max = upload_max

    @property
    def firmware_dir(self) -> Path:
        return self.root / "firmware"

    @property
    def uploads_dir(self) -> Path:
        return self.root / "uploads"

    async def receive(
        self,
        where: Path,
        name: str | Callable[[], str],
        chunks: AsyncIterator[bytes],
        *,
        limit: int,
        expected: int | None,
        meta: dict[str, Any],
    ) -> dict[str, Any]:
        """Write `chunks` as `where/name` with its meta; refused (and nothing kept) over `limit` or short of `expected`.

        `name` may be a function, asked once the chunks are read (a multipart upload names its file as it goes).
        """
        if expected is not None and expected > limit:
            raise FileTooLarge(f"{expected} bytes is over the limit of {limit} bytes; nothing was kept")
        partial = self.root / ".partial" / secrets.token_hex(8)
        partial.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        try:
            with partial.open("wb") as out:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > limit:
                        raise FileTooLarge(f"over the limit of {limit} bytes; nothing was kept")
                    digest.update(chunk)
                    out.write(chunk)
            if expected is not None and size != expected:
                raise FileTruncated(f"{size} of {expected} bytes arrived; nothing was kept")
            name = name() if callable(name) else name
            where.mkdir(parents=True, exist_ok=True)
            record = {**meta, "name": name, "size": size, "sha256": digest.hexdigest()}
            (where / "meta.json").write_text(json.dumps(record))
            os.replace(partial, where / name)
            return record
        except BaseException:
            partial.unlink(missing_ok=True)
            if where.exists() and not (where / "meta.json").exists():
                shutil.rmtree(where, ignore_errors=True)
            raise

    @staticmethod
    def read_meta(where: Path) -> dict[str, Any] | None:
        try:
            meta = json.loads((where / "meta.json").read_text())
        except (OSError, ValueError):
            return None
        return meta if (where / str(meta.get("name"))).is_file() else None

    def entries(self, parent: Path) -> list[tuple[str, dict[str, Any]]]:
        if not parent.is_dir():
            return []
        found = []
        for where in parent.iterdir():
            meta = self.read_meta(where)
            if meta is not None:
                found.append((where.name, meta))
        return found


# -- requests per version -----------------------------------------------------------------


def new_request_id() -> int:
    return secrets.randbelow(2**31 - 2) + 1


def update_firmware_request(
    ocpp_version: str,
    location: str,
    retrieve_at: datetime,
    *,
    retries: int | None = None,
    retry_interval: int | None = None,
    request_id: int | None = None,
    signed: bool = False,
    signature: str | None = None,
    signing_certificate: str | None = None,
    install_at: datetime | None = None,
) -> tuple[str, dict[str, Any]]:
    """1.6 UpdateFirmware, or SignedUpdateFirmware (security extension) when `signed`; 2.0.1 UpdateFirmware.

    A signed update needs the signature and the signing certificate (PEM); 2.0.1 takes them when given.
    """
    if signed and not (signature and signing_certificate):
        raise ValidationFailed({"signature": "a signed update needs the signature and the signing certificate (PEM)"})
    if ocpp_version == OcppVersion.V16 and not signed:
        if signature or signing_certificate or install_at:
            raise ValidationFailed({"signature": "OCPP 1.6 UpdateFirmware has no signing fields: ask for a signed update"})
        payload: dict[str, Any] = {"location": location, "retrieveDate": iso(retrieve_at)}
        if retries is not None:
            payload["retries"] = retries
        if retry_interval is not None:
            payload["retryInterval"] = retry_interval
        return "UpdateFirmware", payload
    firmware: dict[str, Any] = {"location": location, "retrieveDateTime": iso(retrieve_at)}
    if install_at is not None:
        firmware["installDateTime"] = iso(install_at)
    if signing_certificate:
        firmware["signingCertificate"] = signing_certificate
    if signature:
        firmware["signature"] = signature
    payload = {"requestId": request_id if request_id is not None else new_request_id(), "firmware": firmware}
    if retries is not None:
        payload["retries"] = retries
    if retry_interval is not None:
        payload["retryInterval"] = retry_interval
    return ("SignedUpdateFirmware" if ocpp_version == OcppVersion.V16 else "UpdateFirmware"), payload


def logs_request(
    ocpp_version: str,
    location: str,
    log_type: str = "DiagnosticsLog",
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    retries: int | None = None,
    retry_interval: int | None = None,
    request_id: int | None = None,
) -> tuple[str, dict[str, Any]]:
    """1.6 GetDiagnostics for a DiagnosticsLog (GetLog, the security extension's, for a SecurityLog); 2.0.1 GetLog."""
    if log_type not in LOG_TYPES:
        raise ValidationFailed({"log_type": f"one of {', '.join(LOG_TYPES)}"})
    if ocpp_version == OcppVersion.V16 and log_type == "DiagnosticsLog":
        payload: dict[str, Any] = {"location": location}
        for key, value in (("retries", retries), ("retryInterval", retry_interval)):
            if value is not None:
                payload[key] = value
        if since is not None:
            payload["startTime"] = iso(since)
        if until is not None:
            payload["stopTime"] = iso(until)
        return "GetDiagnostics", payload
    parameters: dict[str, Any] = {"remoteLocation": location}
    if since is not None:
        parameters["oldestTimestamp"] = iso(since)
    if until is not None:
        parameters["latestTimestamp"] = iso(until)
    payload = {"log": parameters, "logType": log_type, "requestId": request_id if request_id is not None else new_request_id()}
    for key, value in (("retries", retries), ("retryInterval", retry_interval)):
        if value is not None:
            payload[key] = value
    return "GetLog", payload


# -- the service ------------------------------------------------------------------------------


@dataclass
class _Slot:
    charger_id: str
    log_type: str
    request_id: int | None
    opened: datetime


@dataclass
class _Rollout:
    view: RolloutView
    task: asyncio.Task[None] | None = None
    waiting: dict[str, asyncio.Future[str]] = field(default_factory=dict)


Operate = Callable[..., Awaitable[OperationResult]]


class Firmware:
    """Firmware files and updates, log requests and uploads, rolling updates (`ConsoleService.firmware`)."""

    def __init__(self, live: LiveState, bus: EventBus, clock: Clock, operate: Operate, store_url: str) -> None:
        self.live = live
        self.bus = bus
        self.clock = clock
        self.operate = operate
        self.shelf = FileShelf(files_dir_for(store_url))
        # The base URL chargers reach the console's files at (http(s)://host:port); None: no file server.
        self.base_url: str | None = None
        self._slots: dict[str, _Slot] = {}
        self._rollouts: dict[str, _Rollout] = {}
        # How long a rollout waits for a charger to report Installed (or a failure).
        self.rollout_wait_s = 3600.0
        live.firmware_listeners.append(self._firmware_status)

    def serve_at(self, base_url: str | None) -> None:
        self.base_url = base_url.rstrip("/") if base_url else None

    def _record(self, charger_id: str) -> Any:
        record = self.live.record(charger_id)
        if record is None:
            raise NotFound(f"no charger {charger_id!r}")
        return record

    def _files_url(self) -> str:
        if self.base_url is None:
            raise Unavailable("this console runs no file server: give the firmware's URL (or run `serve`)")
        return self.base_url

    # -- firmware images ---------------------------------------------------------------------

    def firmware_url(self, file_id: str, name: str) -> str | None:
        return f"{self.base_url}/files/firmware/{file_id}/{name}" if self.base_url else None

    def _firmware_view(self, file_id: str, meta: dict[str, Any]) -> StoredFile:
        return StoredFile(
            id=file_id,
            kind="firmware",
            name=meta["name"],
            size=meta["size"],
            sha256=meta["sha256"],
            stored_at=datetime.fromisoformat(meta["stored_at"]),
            url=self.firmware_url(file_id, meta["name"]),
        )

    async def add_firmware(self, name: str, chunks: AsyncIterator[bytes], expected: int | None = None) -> StoredFile:
        """Keep a firmware image (at most `shelf.firmware_max` bytes) to serve to chargers."""
        kept = safe_name(name, "")
        if not kept:
            raise FileRefused(f"{name!r} is not a plain file name (letters, digits, . _ + -)")
        file_id = f"fw-{secrets.token_urlsafe(12)}"
        meta = await self.shelf.receive(
            self.shelf.firmware_dir / file_id,
            kept,
            chunks,
            limit=self.shelf.firmware_max,
            expected=expected,
            meta={"stored_at": iso(self.clock.now())},
        )
        return self._firmware_view(file_id, meta)

    async def add_firmware_file(self, path: Path) -> StoredFile:
        """Keep a firmware image from a local file (the CLI and the embedded console)."""
        try:
            size = path.stat().st_size
        except OSError as error:
            raise FileRefused(f"cannot read {path}: {error.strerror}") from error
        return await self.add_firmware(path.name, _read_chunks(path), size)

    def firmware_files(self) -> list[StoredFile]:
        files = [self._firmware_view(file_id, meta) for file_id, meta in self.shelf.entries(self.shelf.firmware_dir)]
        return sorted(files, key=lambda item: item.stored_at, reverse=True)

    def firmware_file(self, file_id: str) -> tuple[StoredFile, Path]:
        where = self.shelf.firmware_dir / file_id
        meta = self.shelf.read_meta(where) if _NAME.match(file_id) else None
        if meta is None:
            raise NotFound(f"no firmware file {file_id!r}")
        return self._firmware_view(file_id, meta), where / meta["name"]

    def delete_firmware(self, file_id: str) -> StoredFile:
        view, path = self.firmware_file(file_id)
        shutil.rmtree(path.parent, ignore_errors=True)
        return view

    # -- updates ---------------------------------------------------------------------------------

    def _location(self, firmware_id: str | None, location: str | None) -> str:
        if (firmware_id is None) == (location is None):
            raise ValidationFailed({"firmware": "give either a firmware file the console serves or a URL, not both"})
        if location is not None:
            if not re.match(r"^(https?|ftps?)://\S+$", location):
                raise ValidationFailed({"location": "an http(s):// or ftp(s):// URL the charger can reach"})
            return location
        assert firmware_id is not None
        view, _ = self.firmware_file(firmware_id)
        self._files_url()
        assert view.url is not None
        return view.url

    async def update(
        self,
        charger_id: str,
        *,
        firmware_id: str | None = None,
        location: str | None = None,
        retrieve_at: datetime | None = None,
        retries: int | None = None,
        retry_interval: int | None = None,
        signed: bool = False,
        signature: str | None = None,
        signing_certificate: str | None = None,
        install_at: datetime | None = None,
    ) -> OperationResult:
        """Ask a charger to fetch and install firmware: a file the console serves, or a URL."""
        record = self._record(charger_id)
        _check_counts(retries, retry_interval)
        operation, payload = update_firmware_request(
            record.ocpp_version,
            self._location(firmware_id, location),
            retrieve_at or self.clock.now(),
            retries=retries,
            retry_interval=retry_interval,
            signed=signed,
            signature=signature,
            signing_certificate=signing_certificate,
            install_at=install_at,
        )
        return await self.operate(charger_id, operation, payload, command="update_firmware")

    # -- logs ------------------------------------------------------------------------------------

    async def request_logs(
        self,
        charger_id: str,
        log_type: str = "DiagnosticsLog",
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        retries: int | None = None,
        retry_interval: int | None = None,
    ) -> OperationResult:
        """Ask a charger to upload its diagnostics or security log to the console's upload receiver."""
        record = self._record(charger_id)
        _check_counts(retries, retry_interval)
        token = secrets.token_urlsafe(18)
        request_id = new_request_id()
        operation, payload = logs_request(
            record.ocpp_version,
            f"{self._files_url()}/files/uploads/{token}",
            log_type,
            since=since,
            until=until,
            retries=retries,
            retry_interval=retry_interval,
            request_id=request_id,
        )
        self._prune_slots()
        self._slots[token] = _Slot(charger_id, log_type, payload.get("requestId"), self.clock.now())
        result = await self.operate(charger_id, operation, payload, command="get_logs")
        if result.state == "failed" or result.state == "rejected":
            self._slots.pop(token, None)
        return result

    def _prune_slots(self) -> None:
        cutoff = self.clock.now() - UPLOAD_SLOT_TTL
        for token in [token for token, slot in self._slots.items() if slot.opened < cutoff]:
            del self._slots[token]

    def upload_expected(self, token: str) -> bool:
        return token in self._slots

    async def receive_upload(
        self, token: str, name: str | None | Callable[[], str | None], chunks: AsyncIterator[bytes], expected: int | None = None
    ) -> StoredFile:
        """A charger's upload to the URL it was given; at most `shelf.upload_max` bytes.

        `name` may be a function, asked once the file has arrived (a multipart upload names its file as it goes).
        """
        slot = self._slots.get(token)
        if slot is None:
            raise NotFound("no upload is expected at this URL")
        record = self.live.record(slot.charger_id)
        identity = record.identity if record is not None else slot.charger_id
        now = self.clock.now()
        fallback = f"{identity}-{slot.log_type}-{now:%Y%m%dT%H%M%SZ}.log"
        upload_id = f"up-{now:%Y%m%d%H%M%S}-{secrets.token_hex(4)}"
        meta = await self.shelf.receive(
            self.shelf.uploads_dir / slot.charger_id / upload_id,
            lambda: safe_name(name() if callable(name) else name, fallback),
            chunks,
            limit=self.shelf.upload_max,
            expected=expected,
            meta={"stored_at": iso(now), "kind": slot.log_type, "request_id": slot.request_id, "identity": identity},
        )
        view = self._upload_view(slot.charger_id, upload_id, meta)
        self.live.log(identity, "event", f"{slot.log_type} uploaded: {view.name}, {view.size} bytes", charger_id=slot.charger_id)
        return view

    def _upload_view(self, charger_id: str, upload_id: str, meta: dict[str, Any]) -> StoredFile:
        return StoredFile(
            id=upload_id,
            kind=meta.get("kind", "DiagnosticsLog"),
            name=meta["name"],
            size=meta["size"],
            sha256=meta["sha256"],
            stored_at=datetime.fromisoformat(meta["stored_at"]),
            charger_id=charger_id,
            identity=meta.get("identity"),
            request_id=meta.get("request_id"),
        )

    def uploads(self, charger_id: str) -> list[StoredFile]:
        """The files a charger uploaded, newest first."""
        self._record(charger_id)
        entries = self.shelf.entries(self.shelf.uploads_dir / charger_id)
        views = [self._upload_view(charger_id, upload_id, meta) for upload_id, meta in entries]
        return sorted(views, key=lambda item: (item.stored_at, item.id), reverse=True)

    def upload_file(self, charger_id: str, upload_id: str) -> tuple[StoredFile, Path]:
        where = self.shelf.uploads_dir / charger_id / upload_id
        meta = self.shelf.read_meta(where) if _NAME.match(upload_id) and _NAME.match(charger_id) else None
        if meta is None:
            raise NotFound(f"no upload {upload_id!r} from this charger")
        return self._upload_view(charger_id, upload_id, meta), where / meta["name"]

    # -- rolling updates -------------------------------------------------------------------------

    def _firmware_status(self, charger_id: str, status: str) -> None:
        for rollout in self._rollouts.values():
            if charger_id in rollout.view.running:
                rollout.view = replace(rollout.view, statuses={**rollout.view.statuses, charger_id: status})
                waiter = rollout.waiting.get(charger_id)
                if waiter is not None and not waiter.done() and (status == INSTALLED or status in FIRMWARE_FAILURES):
                    waiter.set_result(status)

    async def start_rollout(self, charger_ids: list[str], batch: int = 1, **update: Any) -> RolloutView:
        """Update `charger_ids` in order, `batch` at a time; the first failure stops what has not begun."""
        if not charger_ids:
            raise ValidationFailed({"charger_ids": "name at least one charger"})
        if len(set(charger_ids)) != len(charger_ids):
            raise ValidationFailed({"charger_ids": "a charger is named twice"})
        if not isinstance(batch, int) or batch < 1:
            raise ValidationFailed({"batch": "at least 1 charger at a time"})
        for charger_id in charger_ids:
            self._record(charger_id)
        busy = {c for r in self._rollouts.values() if r.view.state == "running" for c in (*r.view.pending, *r.view.running)}
        if busy & set(charger_ids):
            raise ValidationFailed({"charger_ids": "a charger is already in a running rollout"})
        location = self._location(update.get("firmware_id"), update.get("location"))
        rollout_id = f"ro-{secrets.token_hex(6)}"
        view = RolloutView(
            rollout_id, location, batch, "running", tuple(charger_ids), (), (), (), started_at=self.clock.now()
        )
        rollout = _Rollout(view)
        self._rollouts[rollout_id] = rollout
        rollout.task = asyncio.get_running_loop().create_task(self._roll(rollout, update), name=f"rollout {rollout_id}")
        return view

    def rollout(self, rollout_id: str) -> RolloutView:
        found = self._rollouts.get(rollout_id)
        if found is None:
            raise NotFound(f"no rollout {rollout_id!r}")
        return found.view

    def rollouts(self) -> list[RolloutView]:
        return sorted((r.view for r in self._rollouts.values()), key=lambda view: view.started_at or datetime.min, reverse=True)

    async def _roll(self, rollout: _Rollout, update: dict[str, Any]) -> None:
        try:
            while rollout.view.pending:
                batch = rollout.view.pending[: rollout.view.batch]
                rollout.view = replace(rollout.view, pending=rollout.view.pending[len(batch) :], running=batch)
                outcomes = await asyncio.gather(*(self._one(rollout, charger_id, update) for charger_id in batch))
                failed = tuple(charger_id for charger_id, ok in zip(batch, outcomes) if not ok)
                installed = tuple(charger_id for charger_id, ok in zip(batch, outcomes) if ok)
                rollout.view = replace(
                    rollout.view,
                    running=(),
                    installed=rollout.view.installed + installed,
                    failed=rollout.view.failed + failed,
                )
                if failed:
                    self._end(rollout, "stopped", f"stopped: {', '.join(self._identity(c) for c in failed)} failed; "
                              f"{len(rollout.view.pending)} not begun")
                    return
            self._end(rollout, "completed", f"{len(rollout.view.installed)} installed")
        except asyncio.CancelledError:
            self._end(rollout, "stopped", "the console stopped")
            raise

    def _identity(self, charger_id: str) -> str:
        record = self.live.record(charger_id)
        return record.identity if record is not None else charger_id

    async def _one(self, rollout: _Rollout, charger_id: str, update: dict[str, Any]) -> bool:
        waiter: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        rollout.waiting[charger_id] = waiter
        try:
            try:
                result = await self.update(charger_id, **update)
            except ConsoleError as error:
                rollout.view = replace(rollout.view, statuses={**rollout.view.statuses, charger_id: str(error)})
                return False
            if result.state not in ("acknowledged", "completed"):
                status = result.status or result.reason or result.state
                rollout.view = replace(rollout.view, statuses={**rollout.view.statuses, charger_id: f"not updated: {status}"})
                return False
            try:
                return await asyncio.wait_for(waiter, self.rollout_wait_s) == INSTALLED
            except TimeoutError:
                rollout.view = replace(
                    rollout.view, statuses={**rollout.view.statuses, charger_id: f"not installed within {self.rollout_wait_s:g} s"}
                )
                return False
        finally:
            rollout.waiting.pop(charger_id, None)

    def _end(self, rollout: _Rollout, state: str, detail: str) -> None:
        rollout.view = replace(rollout.view, state=state, detail=detail, ended_at=self.clock.now())
        self.bus.publish(Notice(f"firmware rollout {rollout.view.id} {detail}", "information" if state == "completed" else "warning"))

    async def close(self) -> None:
        tasks = [r.task for r in self._rollouts.values() if r.task is not None and not r.task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _check_counts(retries: int | None, retry_interval: int | None) -> None:
    problems = {}
    if retries is not None and (isinstance(retries, bool) or not isinstance(retries, int) or retries < 0):
        problems["retries"] = "a whole number, 0 or more"
    if retry_interval is not None and (isinstance(retry_interval, bool) or not isinstance(retry_interval, int) or retry_interval < 0):
        problems["retry_interval"] = "whole seconds, 0 or more"
    if problems:
        raise ValidationFailed(problems)


async def _read_chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as source:
        while chunk := await asyncio.to_thread(source.read, CHUNK):
            yield chunk
