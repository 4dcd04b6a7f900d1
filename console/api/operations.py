"""Every operation of the catalogue (console/core/catalogue.py) as its own endpoint, with its own request schema.

POST /console/chargers/{charger_id}/operations/{slug} takes the operation's
parameters in the console's version-neutral words and answers the action's
outcome (`OperationResult`: acknowledged, rejected or failed, with the answer
and the timing). GET /console/chargers/{charger_id}/operations lists what the
charger's version takes, and POST /console/chargers/{charger_id}/operations
sends any operation's payload as given (the escape hatch, checked against the
charger's schema all the same). The routes are generated from the catalogue:
an operation added there appears here.
"""

# No `from __future__ import annotations`: FastAPI reads the generated handlers' body types at run time.

from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, create_model

from console.api.auth import service_of
from console.api.schemas import errors
from console.api.scope import org_scope
from console.api.scopes import operator, reader
from console.core import catalogue
from console.core.catalogue import OperationSpec, Param
from console.core.keys import Principal
from console.core.views import OperationResult

router = APIRouter(prefix="/console", tags=["operations"], dependencies=[Depends(org_scope)])

READ = errors(401, 404, 422)
WRITE = errors(401, 404, 409, 422)


class ParamSpec(BaseModel):
    name: str
    kind: Literal["int", "str", "bool", "choice", "datetime", "json"]
    help: str
    required: bool
    choices: list[str]
    default: Any = None
    version_choices: dict[str, list[str]]
    versions: list[str]


class OperationEntry(BaseModel):
    """One operation as the charger's version takes it."""

    name: str = Field(description="OCPP's name, e.g. TriggerMessage")
    slug: str = Field(description="its path: POST /console/chargers/{charger_id}/operations/{slug}")
    summary: str
    versions: list[str]
    params: list[ParamSpec]
    confirm: str | None = Field(None, description="the question a front end asks before sending it")
    confirm_when: list[list[str]] = Field(description="[parameter, value] pairs that call for a confirmation")
    bulk: bool = Field(description="sensible on several chargers with the same parameters")


class RawOperation(BaseModel):
    """Any operation the charger's version has, its payload sent as given (OCPP's camelCase)."""

    model_config = ConfigDict(extra="forbid")

    operation: str = Field(min_length=1, max_length=64, description="OCPP's name, e.g. GetConfiguration")
    payload: dict[str, Any] = Field(default_factory=dict)


@router.get(
    "/chargers/{charger_id}/operations",
    response_model=list[OperationEntry],
    responses=READ,
    summary="The operations the charger's OCPP version takes, each with its parameters",
)
async def list_operations(request: Request, charger_id: str, who: Principal = Depends(reader)) -> Any:
    return [spec.to_dict() for spec in await service_of(request).operation_catalogue(charger_id)]


@router.post(
    "/chargers/{charger_id}/operations",
    response_model=OperationResult,
    responses=WRITE,
    summary="Send any operation with its OCPP payload as given (checked against the charger's schema)",
)
async def raw_operation(request: Request, charger_id: str, body: RawOperation = Body(...), who: Principal = Depends(operator)) -> Any:
    return (await service_of(request).operate(charger_id, body.operation, body.payload)).to_dict()


def _field(param: Param) -> tuple[Any, Any]:
    kinds: dict[str, Any] = {"int": int, "str": str, "bool": bool, "datetime": str, "json": Any}
    kind = Literal[param.choices] if param.kind == "choice" else kinds[param.kind]  # type: ignore[valid-type]
    note = param.help
    if param.kind == "datetime" and "30m" not in note:
        note += " (ISO 8601, or relative to now: 30m, 2h, 1d)"
    if param.versions:
        note += f" [{', '.join(param.versions)} only]"
    for version, choices in param.version_choices.items():
        note += f" [{version}: {', '.join(choices)}]"
    if param.default is not None:
        return kind, Field(param.default, description=note)
    if param.required:
        return kind, Field(..., description=note)
    return kind | None, Field(None, description=note)


def request_model(spec: OperationSpec) -> type[BaseModel]:
    fields = {param.name: _field(param) for param in spec.params}
    model = create_model(f"{spec.name}Request", __config__=ConfigDict(extra="forbid"), **fields)  # type: ignore[call-overload]
    model.__doc__ = f"{spec.summary} ({', '.join(spec.versions)})."
    return model


def _add(spec: OperationSpec) -> None:
    model = request_model(spec)
    needs_body = any(param.required and param.default is None for param in spec.params)
    body = Body(...) if needs_body else Body(default_factory=model)

    async def send(request: Request, charger_id: str, body: model = body, who: Principal = Depends(operator)) -> Any:  # type: ignore[valid-type]
        # What the caller left out gets the catalogue's default for the charger's version.
        params = body.model_dump(exclude_unset=True, exclude_none=True)  # type: ignore[attr-defined]
        return (await service_of(request).run_operation(charger_id, spec.name, params)).to_dict()

    send.__name__ = spec.slug.replace("-", "_")
    note = f" Asks first in the console: {spec.confirm}" if spec.confirm else ""
    router.post(
        f"/chargers/{{charger_id}}/operations/{spec.slug}",
        response_model=OperationResult,
        responses=WRITE,
        summary=f"OCPP {spec.name}: {spec.summary}",
        description=f"For {', '.join(spec.versions)} chargers; recorded as an action with its timing and outcome.{note}",
        name=send.__name__,
    )(send)


for _spec in catalogue.CATALOGUE:
    _add(_spec)
