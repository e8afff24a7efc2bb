"""CNAB return files of bank variants: Pix records of boletos híbridos in
CNAB 400 returns, Caixa's CNAB 240 segment T
(``rbm_dunning/engine/cnab.py`` and ``cnab_layouts.py``, plain Python).

Positions: Bradesco record 4 (29-105 QR location, 106-140 txid) and Itaú
record 3 (2-391 copy-and-paste code, 392-394 Pix error code) as read by
eduardokum/laravel-boleto, commit 0081d0958f6257c39d4594ce2ca466d725cd5b5c,
src/Cnab/Retorno/Cnab400/Banco/{Bradesco,Itau}.php (the Bradesco record 4 is
also described in that project's issue #730, "Retornos possuem registro do
Tipo 4"). Caixa segment T: nosso número 40-56 as in kivanio/brcobranca
(commit 325e0eae) lib/brcobranca/retorno/cnab240/caixa.rb; document number
59-69 and 70-73 for Caixa's own use (issue #15, from real Caixa returns).
The lines are written here by hand, position by position, so that they do not
depend on our layouts.
"""

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rbm_dunning_engine import cnab

D = Decimal

# Banco Central, Manual do BR Code, dynamic example (tests/vectors/pix_brcode.json)
EMV = json.loads((Path(__file__).parent / "vectors" / "pix_brcode.json").read_text())[
    "manual_br_code_dynamic"
]["payload"]
TXID = "RP12345678201900000000000000001"  # 31 characters, [a-zA-Z0-9]{26,35}
LOCATION = "bx.com.br/pix/8b3da2f3-9a41-40d1-a91a-bd93113bd441"


def _file(lines):
    for number, line in enumerate(lines, 1):
        assert len(line) == 400, (number, len(line))
    return "\r\n".join(lines) + "\r\n"


def _seq(number):
    return f"{number:06d}"


def _return_header(bank, name):
    # 1 "0", 2 "2", 3-9 RETORNO, 10-11 01, 12-26 COBRANCA, 77-79 bank, 80-94 name,
    # 95-100 date DDMMYY, 395-400 sequence
    line = "02RETORNO01" + "COBRANCA".ljust(15) + " " * 50 + bank + name.ljust(15) + "150526"
    return line.ljust(394) + _seq(1)


def _return_trailer(bank, number):
    return ("9201" + bank).ljust(394) + _seq(number)


def _detail(occurrence, our_number_positions, number, amount_paid="0000000145000"):
    # a detail with its occurrence at 109-110, date at 111-116, amount paid at 254-266
    chars = [" "] * 400
    chars[0] = "1"
    for start, text in our_number_positions:
        chars[start - 1 : start - 1 + len(text)] = text
    chars[108:110] = occurrence
    chars[110:116] = "150526"
    chars[146:152] = "250526"
    chars[152:165] = "0000000145000"
    chars[253:266] = amount_paid
    chars[394:400] = _seq(number)
    return "".join(chars)


def _bradesco_pix(number, location=LOCATION, txid=TXID):
    # record 4: 1 "4", 29-105 location (77), 106-140 txid (35)
    return ("4" + " " * 27 + location.ljust(77) + txid.ljust(35)).ljust(394) + _seq(number)


def _itau_pix(number, code=EMV, error="000"):
    # record 3: 1 "3", 2-391 copy-and-paste code (390), 392-394 error code
    return "3" + code.ljust(390) + error + _seq(number)


def test_bradesco_return_with_pix_record():
    content = _file(
        [
            _return_header("237", "BRADESCO"),
            _detail("06", [(71, "00000000030"), (82, "3")], 2),
            _bradesco_pix(3),
            _detail("02", [(71, "00000000031"), (82, "1")], 4),
            _return_trailer("237", 5),
        ]
    )
    parsed = cnab.parse_cnab400(content)
    assert [r.kind for r in parsed.records] == ["header", "detail", "pix", "detail", "trailer"]
    paid, registered = cnab.cnab400_return_items(parsed)
    assert (paid.our_number, paid.kind, paid.amount_paid) == ("00000000030", "paid", D("1450.00"))
    assert (paid.pix_location, paid.pix_txid, paid.pix_code) == (LOCATION, TXID, None)
    assert paid.line_number == 2
    assert registered.pix_txid is None and registered.pix_location is None


def test_itau_return_with_pix_record():
    content = _file(
        [
            _return_header("341", "BANCO ITAU SA"),
            _detail("02", [(63, "00000011"), (83, "109"), (86, "00000011"), (94, "4")], 2),
            _itau_pix(3),
            _return_trailer("341", 4),
        ]
    )
    parsed = cnab.parse_cnab400(content)
    (item,) = cnab.cnab400_return_items(parsed)
    assert item.our_number == "00000011"
    assert item.pix_code == EMV
    assert item.values["pix_error"] == "000"


def test_pix_record_before_any_detail_is_ignored():
    content = _file(
        [_return_header("237", "BRADESCO"), _bradesco_pix(2), _return_trailer("237", 3)]
    )
    assert cnab.cnab400_return_items(cnab.parse_cnab400(content)) == []


def test_bank_without_pix_records_still_refuses_an_unknown_record():
    # Banco do Brasil's CBR643 return defines no Pix record: a "4" is unknown
    content = _file(
        [
            _return_header("001", "BANCO DO BRASIL"),
            _bradesco_pix(2),
            _return_trailer("001", 3),
        ]
    )
    with pytest.raises(cnab.CnabError, match="unknown record type '4'"):
        cnab.parse_cnab400(content)


@given(
    txid=st.text(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=26, max_size=35
    ),
    location=st.text("abcdefghijklmnopqrstuvwxyz0123456789./-", min_size=1, max_size=77),
)
def test_bradesco_pix_record_round_trip(txid, location):
    record = cnab.cnab400_layout("237", "return")["pix"]
    line = record.to_line({"pix_txid": txid, "pix_location": location, "sequence": 3}, 3)
    assert line == _bradesco_pix(3, location=location, txid=txid)
    values, errors = record.from_line(line, 3)
    assert errors == []
    assert (values["pix_txid"].strip(), values["pix_location"].strip()) == (txid, location)


# ---------------------------------------------------------------------------
# Caixa CNAB 240 segment T
# ---------------------------------------------------------------------------


def _caixa_t(document_number, caixa_own):
    # 1-3 104, 4-7 batch 0001, 8 "3", 9-13 sequence, 14 "T", 16-17 occurrence 06,
    # 40-56 nosso número (17), 58 carteira, 59-69 document number (11),
    # 70-73 Caixa's own, 74-81 due date, 82-96 amount
    chars = [" "] * 240
    chars[0:14] = "1040001300001T"
    chars[15:17] = "06"
    chars[39:56] = "14000000000000123"
    chars[57] = "1"
    chars[58:69] = document_number.ljust(11)
    chars[69:73] = caixa_own
    chars[73:81] = "10032026"
    chars[81:96] = "000000000123456"
    return "".join(chars)


def test_caixa_segment_t_document_number_ends_at_69():
    layout = cnab.cnab240_layout("104", "return")["T"]
    line = _caixa_t("NF12345", "0017")
    values, errors = layout.from_line(line, 3)
    assert errors == []
    assert values["document_number"].strip() == "NF12345"
    assert values["caixa_reserved"] == "0017"
    assert values["our_number"] == "14000000000000123"
    assert values["due_date"] == date(2026, 3, 10)
    assert values["amount"] == D("1234.56")
    # FEBRABAN's segment T keeps the document number at 59-73 for other banks
    febraban = cnab.cnab240_layout("237", "return")["T"]
    assert (febraban["document_number"].start, febraban["document_number"].end) == (59, 73)


def test_caixa_beneficiary7_in_segment_p():
    # 7-digit código do beneficiário: P 24-30, then zeros to 40; 6 digits: 24-29
    titles = [cnab.Title(our_number="14000000000000123", due_date=date(2026, 3, 10), amount=1)]
    when = datetime(2026, 3, 1, 10, 0)
    for variant, agreement, expected in (
        ("beneficiary7", "1234567", "12345670000000000"),
        ("", "123456", "12345600000000000"),
    ):
        beneficiary = cnab.Beneficiary(
            bank="104",
            name="EMPRESA",
            document="16727230000197",
            branch="1234",
            agreement=agreement,
            variant=variant,
        )
        content = cnab.cnab240_remittance(beneficiary, titles, 1, when)
        p_line = content.split("\r\n")[2]
        assert p_line[13] == "P"
        assert p_line[23:40] == expected
        assert p_line[40:57] == "14000000000000123"
