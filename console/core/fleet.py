"""The fleet service: charger and location records, their validation, import and export.

Validation reports every bad field by name, and a fleet file is checked whole
before a single row is written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from sqlmodel import Session, col, delete, select

from console.core.clock import Clock
from console.core.errors import ImportRefused, NotFound, ValidationFailed
from console.core.models import (
    OCPP_VERSIONS,
    Action,
    Charger,
    ChargerEvent,
    ChargerSetting,
    ChargerState,
    Connector,
    Location,
    LocationPlan,
    LocalAuthList,
    Reservation,
    LogEntry,
    MeterSample,
    Organization,
    Transaction,
    new_charger_id,
    new_location_id,
)
from console.core.passwords import hash_password, password_problem
from console.core.planshapes import SLOTS, PlanInputError, check_series
from console.core.store import Store
from console.core.tokens import check_token_rows, export_tokens, write_token_rows
from console.core.views import iso
from console.core.versions import OcppVersion

DEFAULT_ORG = "default"

# OCPP-J puts the identity in the URL path and uses ':' to split Basic auth, so
# keep to RFC 3986's unreserved characters, at most 48 (the 2.0.1 identifier length).
IDENTITY_PATTERN = re.compile(r"^[A-Za-z0-9._~-]+$")
IDENTITY_MAX = 48
CONNECTORS_MIN, CONNECTORS_MAX = 1, 8
POWER_MAX_W = 1_000_000

CHARGER_FIELDS = (
    "identity",
    "name",
    "vendor_name",
    "model",
    "image_url",
    "ocpp_version",
    "number_of_connectors",
    "max_charging_power",
    "connector_type",
    "location_id",
    "simulated",
    "user_id",
    "password",
    "tolerant",
    "security_profile",
)
TEXT_LIMITS = {"name": 100, "vendor_name": 64, "model": 64, "connector_type": 32, "user_id": 64}


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value.strip() if isinstance(value, str) else value


def _as_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    raise ValueError


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "1", "on"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "no", "0", "off", ""):
        return False
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ValueError


def clean_charger_fields(
    fields: dict[str, Any],
    *,
    partial: bool,
    location_ids: Iterable[str],
    taken_identities: Iterable[str],
) -> tuple[dict[str, Any], dict[str, str]]:
    """Coerce and check charger fields. Returns (clean values, problems by field)."""
    problems: dict[str, str] = {}
    clean: dict[str, Any] = {}
    unknown = sorted(set(fields) - set(CHARGER_FIELDS) - {"id", "created_at", "updated_at"})
    for name in unknown:
        problems[name] = "unknown field"

    def present(name: str) -> bool:
        return name in fields

    if present("identity") or not partial:
        identity = _blank_to_none(fields.get("identity"))
        if identity is None:
            problems["identity"] = "required: the charge-box id the charger connects with"
        elif not isinstance(identity, str):
            problems["identity"] = "must be text"
        elif len(identity) > IDENTITY_MAX:
            problems["identity"] = f"at most {IDENTITY_MAX} characters"
        elif not IDENTITY_PATTERN.match(identity):
            problems["identity"] = "only letters, digits and - . _ ~ (no spaces, '/' or ':')"
        elif identity in set(taken_identities):
            problems["identity"] = f"'{identity}' is already used by another charger"
        else:
            clean["identity"] = identity

    for name, limit in TEXT_LIMITS.items():
        if present(name):
            value = _blank_to_none(fields[name])
            if value is not None and not isinstance(value, str):
                problems[name] = "must be text"
            elif value is not None and len(value) > limit:
                problems[name] = f"at most {limit} characters"
            else:
                clean[name] = value

    if present("image_url"):
        url = _blank_to_none(fields["image_url"])
        if url is not None and (
            not isinstance(url, str) or not re.match(r"^https?://[^\s/]+\S*$", url)
        ):
            problems["image_url"] = "must be an http:// or https:// address"
        else:
            clean["image_url"] = url

    if present("ocpp_version") or not partial:
        version = _blank_to_none(fields.get("ocpp_version", OcppVersion.V16))
        if version not in OCPP_VERSIONS:
            problems["ocpp_version"] = f"unknown version {version!r}: one of {', '.join(OCPP_VERSIONS)}"
        else:
            clean["ocpp_version"] = version

    if present("number_of_connectors") or not partial:
        try:
            count = _as_int(fields.get("number_of_connectors", 1))
        except ValueError:
            problems["number_of_connectors"] = "must be a whole number"
        else:
            if not CONNECTORS_MIN <= count <= CONNECTORS_MAX:
                problems["number_of_connectors"] = (
                    f"must be between {CONNECTORS_MIN} and {CONNECTORS_MAX}, not {count}"
                )
            else:
                clean["number_of_connectors"] = count

    if present("max_charging_power") or not partial:
        try:
            power = _as_int(fields.get("max_charging_power", 22000))
        except ValueError:
            problems["max_charging_power"] = "must be a whole number of watts"
        else:
            if power <= 0:
                problems["max_charging_power"] = f"must be more than 0 W, not {power}"
            elif power > POWER_MAX_W:
                problems["max_charging_power"] = f"at most {POWER_MAX_W} W"
            else:
                clean["max_charging_power"] = power

    if present("location_id"):
        location_id = _blank_to_none(fields["location_id"])
        if location_id is not None and location_id not in set(location_ids):
            problems["location_id"] = f"unknown location {location_id!r}"
        else:
            clean["location_id"] = location_id

    if present("password"):
        # Write-only: a new password replaces the stored hash; an empty one removes it.
        password = fields["password"]
        if password is None or password == "":
            clean["password_hash"] = clean["sim_password"] = None
        elif (problem := password_problem(password)) is not None:
            problems["password"] = problem
        else:
            clean["password_hash"] = hash_password(password)
            clean["sim_password"] = password  # dropped again unless the charger is simulated

    if present("simulated") or not partial:
        try:
            clean["simulated"] = _as_bool(fields.get("simulated", False))
        except ValueError:
            problems["simulated"] = "must be true or false"

    if present("tolerant") or not partial:
        try:
            clean["tolerant"] = _as_bool(fields.get("tolerant", False))
        except ValueError:
            problems["tolerant"] = "must be true or false"

    if present("security_profile") or not partial:
        profile = _blank_to_none(fields.get("security_profile"))
        try:
            clean["security_profile"] = None if profile is None else _as_int(profile)
        except ValueError:
            problems["security_profile"] = "must be 1, 2 or 3 (or empty: no minimum)"
        else:
            if clean["security_profile"] not in (None, 1, 2, 3):
                problems["security_profile"] = "must be 1, 2 or 3 (or empty: no minimum)"

    return clean, problems


class FleetService:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    # -- organizations -----------------------------------------------------------

    def ensure_org(self, session: Session, name: str = DEFAULT_ORG) -> Organization:
        org = session.exec(select(Organization).where(Organization.name == name)).first()
        if org is None:
            org = Organization(id=f"org-{name}", name=name, created_at=self._now())
            session.add(org)
            session.commit()
        return org

    def _now(self) -> datetime:
        return self.clock.now()

    # -- checks --------------------------------------------------------------------

    def check(
        self, session: Session, fields: dict[str, Any], charger_id: str | None = None
    ) -> tuple[dict[str, Any], dict[str, str]]:
        taken = session.exec(
            select(Charger.identity).where(Charger.id != (charger_id or ""))
        ).all()
        location_ids = session.exec(select(Location.id)).all()
        return clean_charger_fields(
            fields, partial=charger_id is not None, location_ids=location_ids, taken_identities=taken
        )

    # -- charger CRUD (run on the store thread) -------------------------------------

    def create(self, session: Session, fields: dict[str, Any], org: str = DEFAULT_ORG) -> Charger:
        clean, problems = self.check(session, fields)
        if problems:
            raise ValidationFailed(problems)
        organization = self.ensure_org(session, org)
        now = self._now()
        charger = Charger(
            id=new_charger_id(),
            organization_id=organization.id,
            created_at=now,
            updated_at=now,
            **clean,
        )
        _keep_sim_password(charger)
        session.add(charger)
        session.add(ChargerState(charger_id=charger.id))
        session.commit()
        return charger

    def update(self, session: Session, charger_id: str, fields: dict[str, Any]) -> Charger:
        charger = self.get(session, charger_id)
        clean, problems = self.check(session, fields, charger_id)
        if problems:
            raise ValidationFailed(problems)
        for name, value in clean.items():
            setattr(charger, name, value)
        _keep_sim_password(charger)
        charger.updated_at = self._now()
        session.add(charger)
        session.commit()
        return charger

    def delete(self, session: Session, charger_id: str) -> Charger:
        charger = self.get(session, charger_id)
        for table in (
            LogEntry, MeterSample, Transaction, Action, Connector, ChargerState, ChargerEvent, LocalAuthList, ChargerSetting, Reservation
        ):
            session.exec(delete(table).where(col(table.charger_id) == charger_id))  # type: ignore[attr-defined]
        session.delete(charger)
        session.commit()
        return charger

    def get(self, session: Session, charger_id: str) -> Charger:
        charger = session.get(Charger, charger_id)
        if charger is None:
            raise NotFound(f"no charger {charger_id!r}")
        return charger

    def chargers(self, session: Session) -> list[Charger]:
        return list(session.exec(select(Charger).order_by(Charger.identity)).all())

    def locations(self, session: Session) -> list[Location]:
        return list(session.exec(select(Location).order_by(Location.name)).all())

    def count(self, session: Session) -> int:
        return len(session.exec(select(Charger.id)).all())

    # -- fleet files -------------------------------------------------------------

    def import_fleet(self, session: Session, data: Any, org: str = DEFAULT_ORG) -> tuple[int, int]:
        """Import a fleet document whole or not at all. Returns (locations, chargers)."""
        problems: list[tuple[str, str, str]] = []
        if not isinstance(data, dict):
            raise ImportRefused([("file", "(top level)", "must be an object with 'locations' and 'chargers'")])
        raw_locations = data.get("locations", [])
        raw_chargers = data.get("chargers", [])
        if not isinstance(raw_locations, list):
            problems.append(("file", "locations", "must be a list"))
            raw_locations = []
        if not isinstance(raw_chargers, list):
            problems.append(("file", "chargers", "must be a list"))
            raw_chargers = []
        org_id = self._org_id(session, org)

        location_rows: list[dict[str, Any]] = []
        for index, raw in enumerate(raw_locations):
            subject = f"locations[{index}]"
            if not isinstance(raw, dict):
                problems.append((subject, "(entry)", "must be an object"))
                continue
            subject = f"location {raw.get('name') or raw.get('id') or index}"
            name = _blank_to_none(raw.get("name"))
            if not isinstance(name, str) or not name:
                problems.append((subject, "name", "required"))
            cap = raw.get("power_cap_kw")
            if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int | float) or cap <= 0):
                problems.append((subject, "power_cap_kw", "must be a number of kW above 0"))
            location_rows.append(
                {
                    "id": str(raw.get("id") or new_location_id()),
                    "name": name,
                    "address": _blank_to_none(raw.get("address")),
                    "power_cap_kw": cap,
                    "plan": _location_plan(raw.get("plan"), subject, problems),
                }
            )
        file_location_ids = [row["id"] for row in location_rows]
        for duplicate in {i for i in file_location_ids if file_location_ids.count(i) > 1}:
            problems.append((f"location {duplicate}", "id", "appears more than once"))

        known_locations = set(session.exec(select(Location.id)).all()) | set(file_location_ids)
        stored_identities = set(session.exec(select(Charger.identity)).all())
        stored_ids = set(session.exec(select(Charger.id)).all())
        seen_identities: set[str] = set()
        charger_rows: list[dict[str, Any]] = []
        for index, raw in enumerate(raw_chargers):
            if not isinstance(raw, dict):
                problems.append((f"chargers[{index}]", "(entry)", "must be an object"))
                continue
            subject = f"charger {raw.get('identity') or f'#{index + 1}'}"
            fields = {k: v for k, v in raw.items() if k not in ("id", "created_at", "updated_at")}
            clean, field_problems = clean_charger_fields(
                fields,
                partial=False,
                location_ids=known_locations,
                taken_identities=stored_identities | seen_identities,
            )
            if "identity" in field_problems and raw.get("identity") in seen_identities:
                field_problems["identity"] = f"'{raw.get('identity')}' appears more than once in the file"
            problems.extend((subject, field, message) for field, message in field_problems.items())
            if "identity" in clean:
                seen_identities.add(clean["identity"])
            charger_id = raw.get("id")
            if charger_id is not None and (not isinstance(charger_id, str) or not charger_id.strip()):
                problems.append((subject, "id", "must be text"))
            elif charger_id in stored_ids:
                problems.append((subject, "id", f"{charger_id!r} is already in the store"))
            times = {}
            for stamp in ("created_at", "updated_at"):
                if raw.get(stamp) is not None:
                    try:
                        times[stamp] = _parse_time(raw[stamp])
                    except ValueError:
                        problems.append((subject, stamp, "must be an ISO 8601 time"))
            charger_rows.append({"id": charger_id, **clean, **times})

        token_rows, token_problems = check_token_rows(session, org_id, data.get("tokens", []), file_location_ids)
        problems.extend((f"token {subject}", field, message) for subject, field, message in token_problems)

        if problems:
            raise ImportRefused(problems)

        organization = self.ensure_org(session, org)
        now = self._now()
        plans = {row["id"]: row.pop("plan") for row in location_rows}
        for row in location_rows:
            existing = session.get(Location, row["id"])
            if existing is None:
                session.add(
                    Location(organization_id=organization.id, created_at=now, updated_at=now, **row)
                )
            else:
                for name in ("name", "address", "power_cap_kw"):
                    setattr(existing, name, row[name])
                existing.updated_at = now
                session.add(existing)
        session.flush()
        for location_id, settings in plans.items():
            if settings is not None:
                session.merge(LocationPlan(location_id=location_id, updated_at=now, **settings))
        for row in charger_rows:
            charger = Charger(
                id=row.pop("id") or new_charger_id(),
                organization_id=organization.id,
                created_at=row.pop("created_at", now),
                updated_at=row.pop("updated_at", now),
                **row,
            )
            _keep_sim_password(charger)
            session.add(charger)
            session.add(ChargerState(charger_id=charger.id))
        write_token_rows(session, organization.id, token_rows, now)
        session.commit()
        return len(location_rows), len(charger_rows)

    def _org_id(self, session: Session, name: str) -> str:
        """The organization's id, also before it is created (ensure_org's)."""
        org = session.exec(select(Organization).where(Organization.name == name)).first()
        return org.id if org is not None else f"org-{name}"

    def export_fleet(self, session: Session, org: str = DEFAULT_ORG) -> dict[str, Any]:
        """Every location and charger, and the organization's id tokens (when it has any)."""
        tokens = export_tokens(session, self._org_id(session, org))
        return {
            "locations": [
                {
                    "id": location.id,
                    "name": location.name,
                    "address": location.address,
                    "power_cap_kw": location.power_cap_kw,
                }
                for location in self.locations(session)
            ],
            "chargers": [
                {
                    "id": charger.id,
                    "identity": charger.identity,
                    "name": charger.name,
                    "vendor_name": charger.vendor_name,
                    "model": charger.model,
                    "image_url": charger.image_url,
                    "ocpp_version": charger.ocpp_version,
                    "number_of_connectors": charger.number_of_connectors,
                    "max_charging_power": charger.max_charging_power,
                    "connector_type": charger.connector_type,
                    "location_id": charger.location_id,
                    "created_at": iso(charger.created_at),
                    "updated_at": iso(charger.updated_at),
                    "simulated": charger.simulated,
                    # Only when on: a fleet file of strict chargers reads as it did before the setting.
                    **({"tolerant": True} if charger.tolerant else {}),
                    **({"security_profile": charger.security_profile} if charger.security_profile else {}),
                }
                for charger in self.chargers(session)
            ],
            **({"tokens": tokens} if tokens else {}),
        }


def generated_fleet(
    count: int,
    prefix: str = "CP-",
    ocpp_version: str = OcppVersion.V16,
    simulated: bool = False,
    location: str | None = None,
    connectors: int = 1,
    max_charging_power: int = 22000,
) -> dict[str, Any]:
    """A fleet document of `count` like chargers, PREFIX0001 on: a lab, or a load test's fleet, in one command.

    Identities are numbered as `ocpp-console sim` numbers its chargers, so the two pair up.
    """
    width = max(4, len(str(count)))
    locations = []
    location_id = None
    if location:
        location_id = "loc-" + "-".join(location.lower().split())
        locations.append({"id": location_id, "name": location})
    chargers = [
        {
            "identity": f"{prefix}{number:0{width}d}",
            "name": f"{prefix}{number:0{width}d}",
            "ocpp_version": ocpp_version,
            "number_of_connectors": connectors,
            "max_charging_power": max_charging_power,
            "location_id": location_id,
            "simulated": simulated,
        }
        for number in range(1, count + 1)
    ]
    return {"locations": locations, "chargers": chargers}


def _keep_sim_password(charger: Charger) -> None:
    """Only a simulated charger keeps its own password in the store (to connect with); a real one does not."""
    if not charger.simulated:
        charger.sim_password = None


def _parse_time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    else:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment


def _location_plan(raw: Any, subject: str, problems: list[tuple[str, str, str]]) -> dict[str, Any] | None:
    """A location's planner from the fleet file: {"enabled": bool, "tariff": [96 prices], "base_load_kw": [96 kW]}."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) - {"enabled", "tariff", "base_load_kw"}:
        problems.append((subject, "plan", "must be an object of enabled, tariff, base_load_kw"))
        return None
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        problems.append((subject, "plan.enabled", "must be true or false"))
    settings: dict[str, Any] = {"enabled": enabled is not False}
    for name in ("tariff", "base_load_kw"):
        value = raw.get(name)
        try:
            settings[name] = None if value is None else list(check_series(name, value, SLOTS))
        except PlanInputError as error:
            problems.append((subject, f"plan.{name}", error.message))
    return settings
