"""Files over HTTP: firmware images the console serves to chargers, and the logs chargers upload to it.

Two routers:

- `charger_files` (`/files`, no API key: a charger has none): a firmware image
  at its unguessable URL (GET), and the upload receiver at the URL a log
  request gave the charger — PUT of the raw file, or POST multipart/form-data
  (the file part). FTP is not served.
- `router` (`/console`, an API key): the operator's side — add, list and delete
  firmware images, update a charger's firmware (a file the console serves, or a
  URL), request its diagnostics or security log, list and download what it
  uploaded, and rolling updates over a set of chargers.

An upload over its size limit is refused with 413, one cut short with 400; in
both cases nothing is kept.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from console.api.auth import principal, service_of
from console.api.envelope import ApiError
from console.api.scope import org_scope
from console.api.schemas import ErrorEnvelope, errors
from console.core.errors import NotFound
from console.core.firmware import FileRefused, FileTooLarge, FileTruncated, RolloutView, StoredFile
from console.core.fleet import DEFAULT_ORG
from console.core.keys import Principal
from console.core.operations import OperationResult

charger_files = APIRouter(prefix="/files", tags=["files (chargers)"])
router = APIRouter(prefix="/console", tags=["firmware and logs"], dependencies=[Depends(org_scope)])

READ = errors(401, 404, 422)
WRITE = errors(401, 404, 409, 422)
UPLOAD: dict[int | str, dict[str, Any]] = {
    **errors(401, 404, 422),
    400: {"model": ErrorEnvelope, "description": "The upload was cut short: nothing was kept"},
    413: {"model": ErrorEnvelope, "description": "The file is over the size limit: nothing was kept"},
}
# Multipart boundaries and headers around the file, on top of the file's own limit.
MULTIPART_OVERHEAD = 64 * 1024


class FirmwareUpdate(BaseModel):
    """Either `firmware_id` (a file the console serves) or `location` (a URL the charger fetches)."""

    model_config = ConfigDict(extra="forbid")

    firmware_id: str | None = None
    location: str | None = None
    retrieve_at: datetime | None = Field(None, description="when the charger fetches it; now when absent")
    retries: int | None = Field(None, ge=0)
    retry_interval: int | None = Field(None, ge=0, description="seconds between tries")
    signed: bool = Field(False, description="1.6: SignedUpdateFirmware (security extension); needs signature and certificate")
    signature: str | None = None
    signing_certificate: str | None = Field(None, description="PEM")
    install_at: datetime | None = None

    def arguments(self) -> dict[str, Any]:
        return self.model_dump()


class Rollout(FirmwareUpdate):
    charger_ids: list[str] = Field(min_length=1)
    batch: int = Field(1, ge=1, description="how many chargers update at a time")


class LogRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    log_type: str = Field("DiagnosticsLog", description="DiagnosticsLog or SecurityLog")
    since: datetime | None = None
    until: datetime | None = None
    retries: int | None = Field(None, ge=0)
    retry_interval: int | None = Field(None, ge=0)


def _refused(error: FileRefused) -> ApiError:
    if isinstance(error, FileTooLarge):
        return ApiError(413, "PAYLOAD_TOO_LARGE", str(error))
    if isinstance(error, FileTruncated):
        return ApiError(400, "TRUNCATED", str(error))
    return ApiError(422, "VALIDATION_ERROR", str(error))


def _length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        raise ApiError(400, "BAD_REQUEST", f"Content-Length {value!r} is not a number") from None


async def _body(request: Request) -> AsyncIterator[bytes]:
    """The request body as it arrives; a client gone before the end is a truncated upload."""
    try:
        async for chunk in request.stream():
            if chunk:
                yield chunk
    except ClientDisconnect:
        raise FileTruncated("the connection closed before the whole file arrived; nothing was kept") from None


class _MultipartFile:
    """The first file part of a multipart/form-data body, streamed; `name` is known once its headers are read."""

    def __init__(self, request: Request, boundary: bytes, limit: int) -> None:
        self.request = request
        self.limit = limit
        self.name: str | None = None
        self._header_field = b""
        self._headers: dict[bytes, bytes] = {}
        self._in_file = False
        self._done_file = False
        self._ended = False
        self._data: list[bytes] = []
        self.parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_header_field": self._header_field_data,
                "on_header_value": self._header_value_data,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
                "on_end": self._end,
            },
        )

    def _part_begin(self) -> None:
        self._headers = {}
        self._header_field = b""

    def _header_field_data(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        key = self._header_field.lower()
        self._headers[key] = self._headers.get(key, b"") + data[start:end]
        self._header_field = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        if not self._done_file and b"filename" in options:
            self._in_file = True
            self.name = options[b"filename"].decode("utf-8", "replace")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._data.append(data[start:end])

    def _part_end(self) -> None:
        if self._in_file:
            self._in_file, self._done_file = False, True

    def _end(self) -> None:
        self._ended = True

    async def chunks(self) -> AsyncIterator[bytes]:
        received = 0
        async for chunk in _body(self.request):
            received += len(chunk)
            if received > self.limit + MULTIPART_OVERHEAD:
                raise FileTooLarge(f"over the limit of {self.limit} bytes; nothing was kept")
            try:
                self.parser.write(chunk)
            except Exception as error:  # the parser's own errors: a body that is not multipart
                raise FileRefused(f"not a multipart/form-data body: {error}") from error
            data, self._data = self._data, []
            for piece in data:
                yield piece
        if self._ended and not self._done_file:
            raise FileRefused("the upload has no file part (a form field with a filename)")
        if not self._ended:
            raise FileTruncated("the upload ended before its closing boundary; nothing was kept")


async def _receive_upload(request: Request, token: str, name: str | None) -> Any:
    firmware = service_of(request).firmware
    if not firmware.upload_expected(token):
        raise NotFound("no upload is expected at this URL")
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    try:
        if content_type == b"multipart/form-data":
            boundary = options.get(b"boundary")
            if not boundary:
                raise FileRefused("multipart/form-data without a boundary")
            upload = _MultipartFile(request, boundary, firmware.shelf.upload_max)
            stored = await firmware.receive_upload(token, lambda: name or upload.name, upload.chunks())
        else:
            stored = await firmware.receive_upload(token, name, _body(request), _length(request))
    except FileRefused as error:
        raise _refused(error) from None
    return stored.to_dict()


# -- what chargers reach (no API key) --------------------------------------------------------------


@charger_files.get(
    "/firmware/{file_id}/{name}",
    responses={200: {"content": {"application/octet-stream": {}}}, **errors(404)},
    summary="A firmware image, for the charger that was sent its URL",
)
async def firmware_image(request: Request, file_id: str, name: str) -> Any:
    view, path = service_of(request).firmware.firmware_file(file_id)
    if view.name != name:
        raise NotFound(f"no firmware file {file_id!r} named {name!r}")
    return FileResponse(path, media_type="application/octet-stream", filename=view.name)


@charger_files.put("/uploads/{token}/{name}", status_code=201, response_model=StoredFile, responses=UPLOAD, summary="A charger's log upload, the raw file")
async def upload_put(request: Request, token: str, name: str) -> Any:
    return await _receive_upload(request, token, name)


@charger_files.post("/uploads/{token}", status_code=201, response_model=StoredFile, responses=UPLOAD, summary="A charger's log upload, multipart/form-data")
async def upload_post(request: Request, token: str) -> Any:
    return await _receive_upload(request, token, None)


@charger_files.post("/uploads/{token}/{name}", status_code=201, response_model=StoredFile, responses=UPLOAD, summary="A charger's log upload to a named file")
async def upload_post_named(request: Request, token: str, name: str) -> Any:
    return await _receive_upload(request, token, name)


# -- the operator's side -------------------------------------------------------------------------


def _firmware_admin(who: Principal) -> None:
    # Firmware images are the depot's, not an organization's: the default organization keeps them.
    if who.organization_id != f"org-{DEFAULT_ORG}":
        raise NotFound("firmware files are kept by the default organization")


@router.get("/firmware", response_model=list[StoredFile], responses=READ, summary="Firmware images the console serves, newest first")
async def firmware_files(request: Request, who: Principal = Depends(principal)) -> Any:
    _firmware_admin(who)
    return [item.to_dict() for item in service_of(request).firmware.firmware_files()]


@router.put(
    "/firmware/{name}",
    status_code=201,
    response_model=StoredFile,
    responses=UPLOAD,
    summary="Add a firmware image (the raw file as the body); chargers fetch it from its `url`",
)
async def add_firmware(request: Request, name: str, who: Principal = Depends(principal)) -> Any:
    _firmware_admin(who)
    try:
        stored = await service_of(request).firmware.add_firmware(name, _body(request), _length(request))
    except FileRefused as error:
        raise _refused(error) from None
    return stored.to_dict()


@router.delete("/firmware/{file_id}", response_model=StoredFile, responses=READ, summary="Delete a firmware image")
async def delete_firmware(request: Request, file_id: str, who: Principal = Depends(principal)) -> Any:
    _firmware_admin(who)
    return service_of(request).firmware.delete_firmware(file_id).to_dict()


@router.post(
    "/chargers/{charger_id}/firmware",
    response_model=OperationResult,
    responses=WRITE,
    summary="Update the charger's firmware (1.6 UpdateFirmware or SignedUpdateFirmware, 2.0.1 UpdateFirmware)",
)
async def update_firmware(request: Request, charger_id: str, body: FirmwareUpdate = Body(...), who: Principal = Depends(principal)) -> Any:
    service = service_of(request)
    service.org_charger(who.organization_id, charger_id)
    if body.firmware_id is not None:
        _firmware_admin(who)
    return (await service.firmware.update(charger_id, **body.arguments())).to_dict()


@router.post(
    "/chargers/{charger_id}/logs",
    response_model=OperationResult,
    responses=WRITE,
    summary="Ask for the charger's diagnostics or security log (1.6 GetDiagnostics or GetLog, 2.0.1 GetLog), uploaded here",
)
async def request_logs(request: Request, charger_id: str, body: LogRequest = Body(default_factory=LogRequest), who: Principal = Depends(principal)) -> Any:
    service = service_of(request)
    service.org_charger(who.organization_id, charger_id)
    return (await service.firmware.request_logs(charger_id, **body.model_dump())).to_dict()


@router.get("/chargers/{charger_id}/uploads", response_model=list[StoredFile], responses=READ, summary="Files the charger uploaded, newest first")
async def uploads(request: Request, charger_id: str, who: Principal = Depends(principal)) -> Any:
    service = service_of(request)
    service.org_charger(who.organization_id, charger_id)
    return [item.to_dict() for item in service.firmware.uploads(charger_id)]


@router.get("/chargers/{charger_id}/uploads/{upload_id}", responses=READ, summary="Download one uploaded file")
async def upload_download(request: Request, charger_id: str, upload_id: str, who: Principal = Depends(principal)) -> Any:
    service = service_of(request)
    service.org_charger(who.organization_id, charger_id)
    view, path = service.firmware.upload_file(charger_id, upload_id)
    return FileResponse(path, media_type="application/octet-stream", filename=view.name)


@router.post(
    "/firmware/rollouts",
    status_code=202,
    response_model=RolloutView,
    responses=WRITE,
    summary="A rolling update: the chargers in order, `batch` at a time, stopped by the first failure",
)
async def start_rollout(request: Request, body: Rollout = Body(...), who: Principal = Depends(principal)) -> Any:
    service = service_of(request)
    for charger_id in body.charger_ids:
        service.org_charger(who.organization_id, charger_id)
    if body.firmware_id is not None:
        _firmware_admin(who)
    arguments = body.model_dump(exclude={"charger_ids", "batch"})
    return (await service.firmware.start_rollout(body.charger_ids, body.batch, **arguments)).to_dict()


@router.get("/firmware/rollouts", response_model=list[RolloutView], responses=READ, summary="Rolling updates, newest first")
async def rollouts(request: Request, who: Principal = Depends(principal)) -> Any:
    service = service_of(request)
    mine = {view.id for view in service.org_chargers(who.organization_id)}
    found = service.firmware.rollouts()
    return [view.to_dict() for view in found if set(view.pending + view.running + view.installed + view.failed) <= mine]


@router.get("/firmware/rollouts/{rollout_id}", response_model=RolloutView, responses=READ, summary="One rolling update")
async def rollout(request: Request, rollout_id: str, who: Principal = Depends(principal)) -> Any:
    service = service_of(request)
    view = service.firmware.rollout(rollout_id)
    mine = {item.id for item in service.org_chargers(who.organization_id)}
    if not set(view.pending + view.running + view.installed + view.failed) <= mine:
        raise NotFound(f"no rollout {rollout_id!r}")
    return view.to_dict()
