"""A charger's configuration (/console/chargers/{charger_id}/configuration): as last fetched, fetched again, one key changed.

The views are the core's (`ConfigurationView`, `OperationResult`), as the attach client reads them back.
A key that can strand the charger (its central system URL, password, security or network profile)
is refused with 422 CONFIRMATION_REQUIRED unless the body says `"confirm": true`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from console.api.auth import service_of
from console.api.schemas import errors
from console.api.scope import org_scope
from console.api.scopes import operator, reader
from console.core.keys import Principal
from console.core.views import ConfigurationView, OperationResult

router = APIRouter(prefix="/console/chargers", tags=["configuration"], dependencies=[Depends(org_scope)])

READ = errors(401, 404, 422)
WRITE = errors(401, 404, 409, 422)


class SettingChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=200, examples=["HeartbeatInterval", "OCPPCommCtrlr.HeartbeatInterval"])
    value: str = Field(max_length=1000, examples=["300"])
    confirm: bool = Field(False, description="change a key that can strand the charger (central system URL, password, security or network profile)")


@router.get(
    "/{charger_id}/configuration",
    response_model=ConfigurationView,
    responses=READ,
    summary="The charger's configuration as last fetched",
    description="Keys (1.6) or device-model variables (2.0.1) with values, read-only flags and when they were fetched; nothing is asked of the charger.",
)
async def configuration(request: Request, charger_id: str, who: Principal = Depends(reader)) -> Any:
    return (await service_of(request).charger_configuration(charger_id)).to_dict()


@router.post(
    "/{charger_id}/configuration/refresh",
    response_model=ConfigurationView,
    responses=WRITE,
    summary="Fetch the charger's configuration again",
    description="1.6 GetConfiguration, 2.0.1 GetBaseReport (waits for its NotifyReport pages), recorded as an action; `problem` says what fell short.",
)
async def refresh(request: Request, charger_id: str, who: Principal = Depends(operator)) -> Any:
    return (await service_of(request).refresh_configuration(charger_id)).to_dict()


@router.put(
    "/{charger_id}/configuration",
    response_model=OperationResult,
    responses=WRITE,
    summary="Change one configuration key",
    description="1.6 ChangeConfiguration, 2.0.1 SetVariables, recorded as an action; the kept value follows when the charger accepts.",
)
async def change(request: Request, charger_id: str, body: SettingChange = Body(...), who: Principal = Depends(operator)) -> Any:
    result = await service_of(request).change_configuration(charger_id, body.key, body.value, body.confirm)
    return result.to_dict()
