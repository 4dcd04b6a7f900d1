"""`--db` takes what a person types: a SQLite file path, or a URL; anything else is a clear error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from console.core.store import db_url


def test_a_plain_path_names_a_sqlite_file_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert db_url("depot.db") == f"sqlite:///{tmp_path / 'depot.db'}"
    assert db_url(str(tmp_path / "a" / "b.db")) == f"sqlite:///{tmp_path / 'a' / 'b.db'}"


def test_urls_are_kept_as_given() -> None:
    assert db_url("sqlite:///var/x.db") == "sqlite:///var/x.db"
    assert db_url("postgresql://ops@db.local/depot") == "postgresql://ops@db.local/depot"
    assert db_url("postgresql+psycopg://ops@db/depot") == "postgresql+psycopg://ops@db/depot"


@pytest.mark.parametrize("text", ["", "postgresql:depot", "sqlite:x.db"])
def test_what_is_neither_is_refused_with_the_forms_it_takes(text: str) -> None:
    with pytest.raises(ValueError, match="sqlite|SQLite"):
        db_url(text)


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console", *args], capture_output=True, text=True, timeout=60, env=env
    )


def test_the_command_line_takes_a_path_and_writes_the_store_there(tmp_path: Path) -> None:
    store = tmp_path / "depot.db"
    done = _cli("fleet", "export", "--db", str(store))
    assert done.returncode == 0, done.stderr
    assert store.exists()
    assert "Traceback" not in done.stderr


def test_the_command_line_refuses_a_broken_url_without_a_traceback() -> None:
    done = _cli("fleet", "export", "--db", "postgresql:depot")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "not a database URL" in done.stderr


def test_the_store_named_before_the_command_is_the_one_it_uses(tmp_path: Path) -> None:
    before, after = tmp_path / "before.db", tmp_path / "after.db"
    done = _cli("--db", str(before), "fleet", "export")
    assert done.returncode == 0, done.stderr
    assert before.exists()
    done = _cli("--db", str(before), "fleet", "export", "--db", str(after))
    assert done.returncode == 0, done.stderr
    assert after.exists()


def test_the_load_mode_takes_its_own_options_after_sim() -> None:
    # `sim --count …` was "unrecognized arguments": the options after `sim` are the load mode's.
    done = _cli("sim", "--help")
    assert done.returncode == 0, done.stderr
    assert "--count" in done.stdout
    done = _cli("sim", "--count", "1", "--url", "ws://127.0.0.1:9/ocpp", "--duration", "0.5", "--report-every", "0.2")
    assert "unrecognized arguments" not in done.stderr
    assert "Traceback" not in done.stderr
