"""One OCPP version vocabulary: any spelling in, the record's spelling stored, the others asked for."""

from __future__ import annotations

import pytest

from console.core.versions import SUBPROTOCOLS, OcppVersion
from console.tui.widgets.views import version_offered


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("OCPP1.6", OcppVersion.V16),
        ("ocpp1.6", OcppVersion.V16),
        ("1.6", OcppVersion.V16),
        ("OCPP2.0.1", OcppVersion.V201),
        ("2.0.1", OcppVersion.V201),
        ("v201", OcppVersion.V201),
        (" ocpp2.1 ", OcppVersion.V21),
    ],
)
def test_every_spelling_reads_as_one_version(text: str, version: OcppVersion) -> None:
    assert OcppVersion.parse(text) is version


def test_an_unknown_version_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ValueError, match="OCPP1.6, OCPP2.0.1, OCPP2.1"):
        OcppVersion.parse("ocpp1.5")


def test_a_version_is_its_record_spelling_and_knows_the_others() -> None:
    assert OcppVersion.V201 == "OCPP2.0.1" and {"OCPP2.0.1": 1}[OcppVersion.V201] == 1
    assert OcppVersion.V201.subprotocol == "ocpp2.0.1" and OcppVersion.V201.short == "2.0.1"
    assert SUBPROTOCOLS == ("ocpp2.1", "ocpp2.0.1", "ocpp1.6")


@pytest.mark.parametrize(
    ("offered", "version"),
    [("ocpp1.6", "OCPP1.6"), ("ocpp1.6, ocpp2.0.1", "OCPP2.0.1"), ("ocpp2.0.1, ocpp2.1", "OCPP2.1"), (None, "OCPP1.6"), ("ocpp9", "OCPP1.6")],
)
def test_an_unknown_charger_is_accepted_as_the_newest_version_it_offered(offered: str | None, version: str) -> None:
    assert version_offered(offered) == version
