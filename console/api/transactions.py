"""Charging sessions in the public API: a charger's sessions, one session with its meter values, and its CSV.

The same facts as /console's session endpoints (the core's TransactionView and
export), under the deployment API's paths and the key's organization.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from console.api.auth import service_of
from console.api.deployments import IDENTITY, control_target
from console.api.schemas import Transaction, TransactionExport, errors
from console.api.scopes import reader
from console.core.errors import NotFound
from console.core.keys import Principal
from console.core.service import ConsoleService

router = APIRouter(tags=["transactions"])

CSV_COLUMNS = ("transaction_id", "charger_id", "identity", "at", "connector_id", "measurand", "phase", "unit", "value")
TRANSACTION_ID = Path(ge=1, le=2**63 - 1, description="the session's id (the 1.6 transactionId the console handed out)")


@router.get(
    "/ocpp/chargers/{identity}/transactions",
    response_model=list[Transaction],
    responses=errors(401, 403, 404, 422),
    summary="List charger transactions",
    description=(
        "The charger's charging sessions, newest first, each with what had to be repaired in it. `limit`/`offset` "
        "page them and `X-Total-Count` tells how many there are."
    ),
)
async def list_transactions(
    request: Request,
    response: Response,
    identity: str = IDENTITY,
    who: Principal = Depends(reader),
    limit: int = Query(100, ge=1, le=500, description="sessions per page (1-500)"),
    offset: int = Query(0, ge=0, le=100_000, description="sessions to skip"),
) -> Any:
    service = service_of(request)
    view = control_target(service, who, identity)
    page, total = await service.transaction_page(view.id, limit, offset)
    response.headers["X-Total-Count"] = str(total)
    return [{**item.to_dict(), "repairs": list(item.repairs)} for item in page]


async def _export(service: ConsoleService, who: Principal, transaction_id: int) -> dict[str, Any]:
    try:
        charger_id = await service.transaction_charger_id(transaction_id)
        service.org_charger(who.organization_id, charger_id)
    except NotFound:
        raise NotFound(f"no transaction {transaction_id}") from None
    return await service.export_transaction(charger_id, transaction_id)


@router.get(
    "/transactions/{transaction_id}",
    response_model=TransactionExport,
    responses=errors(401, 403, 404, 422),
    summary="Get transaction",
    description="One session with every meter value of it, signed ones as the charger sent them (for an audit).",
)
async def get_transaction(request: Request, transaction_id: int = TRANSACTION_ID, who: Principal = Depends(reader)) -> Any:
    return await _export(service_of(request), who, transaction_id)


@router.get(
    "/transactions/{transaction_id}/meter-values.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "one line per meter value"}, **errors(401, 403, 404, 422)},
    summary="Export transaction meter values as CSV",
    description=f"A header line ({', '.join(CSV_COLUMNS)}), then every meter value of the session, oldest first.",
)
async def export_csv(request: Request, transaction_id: int = TRANSACTION_ID, who: Principal = Depends(reader)) -> Response:
    export = await _export(service_of(request), who, transaction_id)
    transaction = export["transaction"]
    identity = service_of(request).org_charger(who.organization_id, transaction["charger_id"]).identity
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for sample in export["meter_values"]:
        writer.writerow(
            [transaction_id, transaction["charger_id"], identity, sample["at"], sample["connector_id"], sample["measurand"],
             sample["phase"] or "", sample["unit"] or "", sample["value"]]
        )
    filename = f"transaction-{transaction_id}.csv"
    return Response(out.getvalue(), media_type="text/csv", headers={"Content-Disposition": f'attachment; filename="{filename}"'})
