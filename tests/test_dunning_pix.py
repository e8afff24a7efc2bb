"""Tests for ``rbm_dunning/engine/pix.py`` (plain Python, no Odoo).

Public vectors: tests/vectors/br_vectors.json (``pix``): the BCB
Manual do BR Code static example and the dynamic example of the Manual de
Padrões sec. 6.2, with their CRCs.
"""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rbm_dunning_engine import pix

STATIC = (
    "00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-426655440000"
    "5204000053039865802BR5913Fulano de Tal6008BRASILIA62070503***63041D3D"
)
DYNAMIC = (
    "00020101021226770014BR.GOV.BCB.PIX2555pix.example.com/qr/"
    "93598be0-1bd0-4997-8318-81776a1d8a995204000053039865802BR5907EMPRESA"
    "6009SAO PAULO62070503***6304EEAB"
)
EVP = "123e4567-e12b-12d1-a456-426655440000"
LOCATION = "pix.example.com/qr/93598be0-1bd0-4997-8318-81776a1d8a99"


def test_crc_check_value():
    assert pix.crc16("123456789") == "29B1"
    assert pix.crc16(b"123456789") == "29B1"


@pytest.mark.parametrize("payload, crc", [(STATIC, "1D3D"), (DYNAMIC, "EEAB")])
def test_vector_crcs(payload, crc):
    assert pix.crc16(payload[:-4]) == crc
    pix.verify_crc(payload)


def test_static_vector():
    assert pix.static_payload(EVP, "Fulano de Tal", "BRASILIA") == STATIC
    parsed = pix.parse_payload(STATIC)
    assert parsed.kind == "static"
    assert parsed.key == EVP
    assert parsed.merchant_name == "Fulano de Tal"
    assert parsed.merchant_city == "BRASILIA"
    assert parsed.txid == "***"
    assert parsed.amount is None
    assert parsed.crc == "1D3D"
    assert parsed.point_of_initiation is None


def test_dynamic_vector():
    payload = pix.dynamic_payload(LOCATION, "EMPRESA", "SAO PAULO", gui="BR.GOV.BCB.PIX")
    assert payload == DYNAMIC
    parsed = pix.parse_payload(DYNAMIC)
    assert parsed.kind == "dynamic"
    assert parsed.location == LOCATION
    assert parsed.point_of_initiation == "12"
    assert parsed.txid == "***"
    assert parsed.key is None
    assert parsed.fields["26"]["00"] == "BR.GOV.BCB.PIX"


def test_static_with_amount_txid_and_description():
    payload = pix.static_payload(
        "+5511987654321",
        "Padaria São João",
        "São Paulo",
        amount=Decimal("123.4"),
        txid="FATURA2026000123",
        description="Fatura 123",
    )
    assert "540612" + "3.40" in payload
    parsed = pix.parse_payload(payload)
    assert parsed.amount == Decimal("123.40")
    assert parsed.txid == "FATURA2026000123"
    assert parsed.description == "Fatura 123"
    assert parsed.merchant_name == "Padaria Sao Joao"  # folded to ASCII
    assert parsed.merchant_city == "Sao Paulo"
    assert parsed.key == "+5511987654321"


@pytest.mark.parametrize(
    "key, kind",
    [
        ("39053344705", "cpf"),
        ("16727230000197", "cnpj"),
        ("12ABC34501DE35", "cnpj"),
        ("+5561912345678", "phone"),
        ("cobranca@example.com.br", "email"),
        (EVP, "evp"),
    ],
)
def test_key_types(key, kind):
    assert pix.key_type(key) == kind
    assert pix.parse_payload(pix.static_payload(key, "RBM", "BRASILIA")).key == key


@pytest.mark.parametrize(
    "kwargs, field, message",
    [
        ({"merchant_name": "A" * 26}, "merchant_name", "at most 25 characters, got 26"),
        ({"merchant_city": "Sao Jose dos Campos"}, "merchant_city", "at most 15 characters"),
        ({"merchant_name": "   "}, "merchant_name", "is required"),
        ({"txid": "has-dash"}, "txid", "1 to 25 letters and digits"),
        ({"txid": "A" * 26}, "txid", "1 to 25 letters and digits"),
        ({"key": "390.533.447-05"}, "key", "is not a Pix key"),
        ({"key": "11987654321"}, "key", "is not a Pix key"),  # phone without +55
        ({"amount": Decimal("0")}, "amount", "must be positive"),
        ({"amount": Decimal("-1")}, "amount", "must be positive"),
        ({"amount": Decimal("1.005")}, "amount", "more than two decimal places"),
        ({"amount": Decimal("12345678901.00")}, "amount", "longer than 13"),
        ({"description": "x" * 70}, "26", "at most 99"),
    ],
)
def test_static_bad_input(kwargs, field, message):
    args = {"key": EVP, "merchant_name": "RBM", "merchant_city": "BRASILIA", **kwargs}
    with pytest.raises(pix.PixError, match=message) as exc:
        pix.static_payload(**args)
    assert exc.value.field == field


@pytest.mark.parametrize(
    "location, message",
    [
        ("https://pix.example.com/qr/1", "without scheme"),
        ("", "is required"),
        ("pix.example.com/qr/ 1", "without spaces"),
        ("pix.example.com/" + "x" * 80, "at most 99"),
    ],
)
def test_dynamic_bad_location(location, message):
    with pytest.raises(pix.PixError, match=message):
        pix.dynamic_payload(location, "RBM", "BRASILIA")


@pytest.mark.parametrize(
    "payload, field, message",
    [
        (STATIC[:-4] + "1D3E", "63", "CRC is 1D3E, expected 1D3D"),
        (STATIC[:-8], "63", "must end with the CRC"),
        (pix.with_crc("000201" + "XX05abcde"), "payload", "malformed field header 'XX05'"),
        (pix.with_crc("000201" + "2605AB123"), "26", "malformed field header 'AB12'"),
        (pix.with_crc("000201" + "5999abc"), "59", "declares 99 characters but only"),
        (pix.with_crc("000201520400005303986"), "58", "mandatory field is missing"),
        (
            pix.with_crc("00020126180014br.gov.bcb.pix5204000053039865802BR5901A6001B62070503***"),
            "26",
            "neither a key",
        ),
        (
            pix.with_crc("00020126180014br.gov.bcb.pxx5204000053039865802BR5901A6001B62070503***"),
            "26",
            "no merchant account",
        ),
        (
            pix.with_crc("000201520400005303840" + "5802BR5901A6001B"),
            "53",
            "must be '986'",
        ),
        (
            pix.with_crc("000202" + STATIC[6:-8]),
            "00",
            "starts with payload format indicator",
        ),
    ],
)
def test_parse_errors(payload, field, message):
    with pytest.raises(pix.PixError, match=message) as exc:
        pix.parse_payload(payload)
    assert exc.value.field == field


def test_tlv_rejects_long_values():
    with pytest.raises(pix.PixError, match="at most 99"):
        pix.tlv("26", "x" * 100)


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------

texts = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=15
).filter(lambda s: s.strip())
static_payloads = st.builds(
    pix.static_payload,
    key=st.sampled_from(["39053344705", "+5561912345678", "a@b.co", EVP]),
    merchant_name=texts,
    merchant_city=texts,
    amount=st.one_of(st.none(), st.integers(1, 10**10).map(lambda c: Decimal(c).scaleb(-2))),
    txid=st.one_of(st.none(), st.text(alphabet="ABCXYZabc0123456789", min_size=1, max_size=25)),
    description=st.one_of(st.none(), texts),
)


@given(static_payloads)
def test_built_payload_verifies_and_parses(payload):
    pix.verify_crc(payload)
    parsed = pix.parse_payload(payload)
    assert parsed.kind == "static"
    assert (
        pix.static_payload(
            parsed.key,
            parsed.merchant_name,
            parsed.merchant_city,
            amount=parsed.amount,
            txid=parsed.txid,
            description=parsed.description,
        )
        == payload
    )


@given(static_payloads, st.data())
def test_any_single_changed_character_fails(payload, data):
    position = data.draw(st.integers(0, len(payload) - 1))
    original = payload[position]
    # the CRC is compared case-insensitively, so a case change of a CRC hex
    # digit is not a change
    alphabet = [
        c for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ.*@ -" if c.upper() != original.upper()
    ]
    changed = payload[:position] + data.draw(st.sampled_from(alphabet)) + payload[position + 1 :]
    with pytest.raises(pix.PixError):
        pix.parse_payload(changed)
