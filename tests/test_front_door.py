"""Core's front door at run time: the UI and the attach client load neither the store nor the `ocpp` package.

Attach mode runs the whole UI against the HTTP client: importing every module of
`console.tui` and the client must leave SQLAlchemy, SQLModel, Alembic and `ocpp`
(and the server's FastAPI, uvicorn, websockets) unloaded. Each probe is a fresh
interpreter, so nothing this test run imported counts.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

HEAVY = ("sqlalchemy", "sqlmodel", "alembic", "ocpp", "fastapi", "uvicorn", "websockets")

PROBE = """
import importlib, pkgutil, sys
import console.tui
for module in pkgutil.walk_packages(console.tui.__path__, "console.tui."):
    importlib.import_module(module.name)
for name in {modules!r}:
    importlib.import_module(name)
print(" ".join(sorted({{name.split(".")[0] for name in sys.modules}} & set({heavy!r}))))
"""


def heavy_loaded(*modules: str) -> list[str]:
    """The heavy packages loaded by importing all of `console.tui` and then `modules`."""
    probe = PROBE.format(modules=modules, heavy=HEAVY)
    run = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return run.stdout.split()


def test_the_ui_and_the_attach_client_load_no_store_and_no_ocpp() -> None:
    assert heavy_loaded("console.tui.app", "console.api.client") == []


def test_the_in_process_service_loads_them() -> None:
    # The probe's own check: the embedded console's wiring does load the store and ocpp.
    loaded = heavy_loaded("console.depot")
    assert {"sqlalchemy", "sqlmodel", "ocpp"} <= set(loaded)
