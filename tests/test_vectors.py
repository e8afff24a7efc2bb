"""The public Brazilian vectors of ``tests/vectors/br_vectors.json`` (sources
named in ``tests/vectors/README.md`` and in each entry), read from the file:
the codecs agree with every case it holds. The codec tests also quote them
inline, next to the examples the file lacks."""

import json
from datetime import date
from pathlib import Path

import pytest

from rbm_dunning_engine import boleto, checkdigits, pix

VECTORS = json.loads((Path(__file__).parent / "vectors" / "br_vectors.json").read_text())


@pytest.mark.parametrize("case", VECTORS["due_date_factor"]["cases"])
def test_due_date_factor(case):
    assert boleto.due_date_factor(date.fromisoformat(case["date"])) == case["factor"]


@pytest.mark.parametrize("value", VECTORS["cpf_cnpj"]["valid"])
def test_valid_documents(value):
    assert checkdigits.is_valid_cpf(value) or checkdigits.is_valid_cnpj(value)


@pytest.mark.parametrize("value", VECTORS["cpf_cnpj"]["invalid"])
def test_invalid_documents(value):
    assert not checkdigits.is_valid_cpf(value) and not checkdigits.is_valid_cnpj(value)


@pytest.mark.parametrize("case", [c for c in VECTORS["boletos"] if c.get("barcode")])
def test_boleto_barcode_and_line(case):
    assert boleto.typeable_line(case["barcode"], formatted=False) == "".join(
        ch for ch in case["linha_digitavel"] if ch.isdigit()
    )
    assert boleto.barcode_from_typeable_line(case["linha_digitavel"]) == case["barcode"]
    assert case["barcode"][19:] == case["campo_livre"]


@pytest.mark.parametrize("case", VECTORS["pix"]["payloads"])
def test_pix_crc(case):
    assert case["payload"].endswith(case["crc"])
    assert pix.crc16(case["payload"][:-4]) == case["crc"]
