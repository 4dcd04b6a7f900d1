"""A bounded property-based run of schemathesis against the live API's own OpenAPI: no request gets a server error,
and every answer is one the schema declares (its status code, content type, headers and body)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


# A server of its own and schemathesis' 62 operations: over half a minute alone, more on a loaded machine.
@pytest.mark.timeout(240)
def test_no_generated_request_gets_a_server_error_or_an_undeclared_answer(tmp_path: Path) -> None:
    env = {**os.environ, "OCPP_CONSOLE_DB": f"sqlite:///{tmp_path / 'fuzz.db'}"}
    python = [sys.executable, "-m", "console"]
    subprocess.run([*python, "fleet", "import", str(ROOT / "sample_fleet.json")], env=env, check=True, capture_output=True)
    key = subprocess.run(
        [*python, "keys", "create", "--org", "default"], env=env, check=True, capture_output=True, text=True
    ).stdout.strip()
    server = subprocess.Popen(
        [*python, "serve", "--no-sim", "--ocpp-port", "0", "--api-port", "0"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert server.stdout is not None
        url = None
        deadline = time.monotonic() + 30
        while url is None and time.monotonic() < deadline:
            found = re.search(r"REST API listening on (http://\S+)", server.stdout.readline())
            url = found.group(1) if found else None
        assert url, "the API did not start"
        # Keep reading the server's log so it never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in server.stdout], daemon=True).start()  # type: ignore[union-attr]
        run = subprocess.run(
            [
                sys.executable, "-m", "schemathesis.cli", "run", f"{url}/openapi.json",
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,"
                "response_schema_conformance",
                "--max-examples", "3", "--phases", "examples,fuzzing",
                # One worker: schemathesis' threads race in CPython 3.11's ast module ("AST constructor
                # recursion depth mismatch"), an error of the tool, not of the API.
                "--workers", "1", "--seed", "1",
                "-H", f"x-api-key: {key}", "-H", f"Authorization: Bearer {key}",
            ],
            capture_output=True, text=True, timeout=240,
        )
        assert run.returncode == 0, run.stdout[-3000:]
        assert re.search(r"\d+ generated, \d+ passed", run.stdout)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
