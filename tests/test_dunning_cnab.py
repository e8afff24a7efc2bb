"""Tests for the CNAB codecs: ``rbm_dunning/engine/fixedwidth.py``,
``cnab.py`` and ``cnab_layouts.py`` (plain Python, no Odoo).

Public data:

- tests/vectors/br_vectors.json ``cnab400_retorno`` (Bradesco CNAB 400
  return detail with its expected fields);
- files published with kivanio/brcobranca (commit 325e0eae): remittances in
  spec/fixtures/remessa (written back byte for byte from what we read, which
  checks every field position of the per-bank layouts) and return files in
  spec/arquivos (those are published with trailing blanks trimmed).
"""

from datetime import date, datetime, time
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rbm_dunning_engine import boleto, cnab, cnab150, cnab_layouts, fixedwidth
from rbm_dunning_engine.fixedwidth import Field, Record

D = Decimal


def _file(lines):
    return "\r\n".join(lines) + "\r\n"


# ---------------------------------------------------------------------------
# Public fixtures (kivanio/brcobranca, commit 325e0eae)
# ---------------------------------------------------------------------------

# spec/fixtures/remessa/remessa-banco_brasil-cnab240.rem
BB_240 = (
    (
        "00100000         100012345678901001234567001412123  0123430000000123455 SOCIEDAD"
        "E BRASILEIRA DE ZOOLOGBANCO DO BRASIL SA                      114072015161515000"
        "000083000000000000000000000000000000000000000000000                             "
    ),
    (
        "00100011R01  042 1000012345678901001234567001412123  0123430000000123455 SOCIEDA"
        "DE BRASILEIRA DE ZOOLOG                                                         "
        "                       000000001407201500000000                                 "
    ),
    (
        "0010001300001P 010123430000000123455 12345670000000123   71 00000000000006969140"
        "7201500000000001999000000 02N140720153000000000000000000000000000000000000000000"
        "00000000000000000000000000000000000                     69693000000090000000000 "
    ),
    (
        "0010001300002Q 011000012345678901PABLO DIEGO JOSE FRANCISCO DE PAULA JUANRUA RIO"
        " GRANDE DO SUL SAO PAULO MINAS CASAO JOSE DOS QU12345678SANTA RITA DE CSP0000000"
        "000000000                                        000                            "
    ),
    (
        "0010001300003R 01000000000000000000000000000000000000000000000000000000000000000"
        "000000000                                                                       "
        "                                       0000000000000000 000000000000  0         "
    ),
    (
        "00100015         000005000000000000000000000000000000000000000000000000000000000"
        "00000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "00000000000000000000000000000000000000000000000000000000000000000000000000000000"
    ),
    (
        "00199999         000001000007                                                   "
        "                                                                                "
        "                                                                                "
    ),
)

# spec/fixtures/remessa/remessa-santander-cnab240.rem
SANTANDER_240 = (
    (
        "03300000        2028254225000193000100001234567                         SOCIEDAD"
        "E BRASILEIRA DE ZOOLOGBANCO SANTANDER                         114072015      000"
        "001040                                                                          "
    ),
    (
        "03300011R01  030 2028254225000193                    000100001234567     SOCIEDA"
        "DE BRASILEIRA DE ZOOLOG                                                         "
        "                       000000011407201500000000                                 "
    ),
    (
        "0330001300001P 010001901300123430130012343  0000012345679112  9999           140"
        "7201500000000001999000000 02N140720153000000000000000000000000000000000000000000"
        "000000000000000000000000000000000009999                     300300000           "
    ),
    (
        "0330001300002Q 011000012345678901PABLO DIEGO JOSE FRANCISCO DE PAULA JUANRUA RIO"
        " GRANDE DO SUL SAO PAULO MINAS CASAO JOSE DOS QU12345678SANTA RITA DE CSP0000000"
        "000000000                                        000000000000                   "
    ),
    (
        "0330001300003R 01000000000000000000000000000000000000000000000000000000000000000"
        "000000000                                                                       "
        "                                                                                "
    ),
    (
        "03300015         000005                                                         "
        "                                                                                "
        "                                                                                "
    ),
    (
        "03399999         000001000007                                                   "
        "                                                                                "
        "                                                                                "
    ),
)

# spec/fixtures/remessa/remessa-caixa-cnab240.rem
CAIXA_240 = (
    (
        "10400000         1000123456789010000000000000000000012345112345600000000SOCIEDAD"
        "E BRASILEIRA DE ZOOLOGCAIXA ECONOMICA FEDERAL                 114072015161515000"
        "00105000000                    REMESSA-PRODUCAO    1234                         "
    ),
    (
        "10400011R0100030 10000123456789011234560000000000000012345112345600000000SOCIEDA"
        "DE BRASILEIRA DE ZOOLOG                                                         "
        "                       000000011407201500000000                                 "
    ),
    (
        "1040001300001P 0112345112345600000000000140000000000001231122000000006969    140"
        "7201500000000001999000000099N140720151150720150000000000000000000000000000000000"
        "0000000000000000000000000000000000000000006969              3001120090000000000 "
    ),
    (
        "1040001300002Q 011000012345678901PABLO DIEGO JOSE FRANCISCO DE PAULA JUANRUA RIO"
        " GRANDE DO SUL SAO PAULO MINAS CASAO JOSE DOS QU12345678SANTA RITA DE CSP0000000"
        "000000000                                        000                            "
    ),
    (
        "1040001300003R 01000000000000000000000000000000000000000000000000215072015000000"
        "000000000                                                                       "
        "                                                                                "
    ),
    (
        "10400015         000005000000000000000000000000000000000000000000000000000000000"
        "000000000000                                                                    "
        "                                                                                "
    ),
    (
        "10499999         000001000007                                                   "
        "                                                                                "
        "                                                                                "
    ),
)

# spec/fixtures/remessa/remessa-bancoob-cnab240.rem
SICOOB_240 = (
    (
        "75600000         274576177000177                    0432730000000036668 SOCIEDAD"
        "E BRASILEIRA DE ZOOLOGSICOOB                                  114072015161515000"
        "00008100000                                                                     "
    ),
    (
        "75600011R01  040 2074576177000177                    0432730000000036668 SOCIEDA"
        "DE BRASILEIRA DE ZOOLOG                                                         "
        "                       000000001407201500000000                                 "
    ),
    (
        "7560001300001P 010432730000000036668 000042971501014     10 22000000000006969140"
        "7201500000000000500000000 02N140720150000000000000000000000000000000000000000000"
        "00000000000000000000000000000000000                     69691000   090000000000 "
    ),
    (
        "7560001300002Q 011000082136760505PABLO DIEGO JOSE FRANCISCO DE PAULA JUANRUA RIO"
        " GRANDE DO SUL SAO PAULO MINAS CASAO JOSE DOS QU12345678SANTA RITA DE CRJ0000000"
        "000000000                                        000                            "
    ),
    (
        "7560001300003R 01000000000000000000000000000000000000000000000000000000000000000"
        "000000000                                                                       "
        "                                       0000000000000000 000000000000  0         "
    ),
    (
        "75600015         000005000001000000000000050000000000000000000000000000000000000"
        "00000000000000000000000000000000000                                             "
        "                                                                                "
    ),
    (
        "75699999         000001000007000000                                             "
        "                                                                                "
        "                                                                                "
    ),
)

# spec/fixtures/remessa/remessa-sicredi-cnab240.rem
SICREDI_240 = (
    (
        "74800000         274576177000177                    00165 0000000006238 SOCIEDAD"
        "E BRASILEIRA DE ZOOLOGSICREDI                                 114072007161515000"
        "00008101600                                                                     "
    ),
    (
        "74800011R01  040 2074576177000177                    00165 0000000006238 SOCIEDA"
        "DE BRASILEIRA DE ZOOLOG                                                         "
        "                       000000001407200700000000                                 "
    ),
    (
        "7480001300001P 0100165 0000000006238 072000031           11122000000000006969140"
        "7200700000000000500000000 03N140720071150720070000000000000001000000000000000000"
        "00000000000000000000000000000000000                     69693001060090000000000 "
    ),
    (
        "7480001300002Q 011000082136760505PABLO DIEGO JOSE FRANCISCO DE PAULA JUANRUA RIO"
        " GRANDE DO SUL SAO PAULO MINAS CASAO JOSE DOS QU12345678SANTA RITA DE CRJ0000000"
        "000000000                                        000                            "
    ),
    (
        "7480001300003R 01000000000000000000000000000000000000000000000000000000000000000"
        "000000000                                                                       "
        "                                       0000000000000000 000000000000  0         "
    ),
    (
        "74800015         000005000000000000000000000000000000000000000000000000000000000"
        "00000000000000000000000000000000000                                             "
        "                                                                                "
    ),
    (
        "74899999         000001000007000000                                             "
        "                                                                                "
        "                                                                                "
    ),
)

# spec/fixtures/remessa/remessa-bradesco-cnab400.rem
BRADESCO_400 = (
    (
        "01REMESSA01COBRANCA       00000000000000000123SOCIEDADE BRASILEIRA DE ZOOLOG237B"
        "RADESCO       140715        MX0000001                                           "
        "                                                                                "
        "                                                                                "
        "                                                                          000001"
    ),
    (
        "10000000000000000000000112345123456716969                     000202000000000012"
        "3P00000000002N           2  011         14071500000000199900000000001N1407150000"
        "00000000000000000000000000000000000000000000000000000000000100012345678901PABLO "
        "DIEGO JOSE FRANCISCO DE PAULA JUANRUA RIO GRANDE DO SU SANTA RITA DE CSP        "
        "      12345678                                                            000002"
    ),
    (
        "9                                                                               "
        "                                                                                "
        "                                                                                "
        "                                                                                "
        "                                                                          000003"
    ),
)

# spec/arquivos/CNAB240.RET, lines 3, 4 (published with trailing blanks trimmed)
BB_240_TU = (
    (
        "0010001300001T 170123450000000054321 14499570000020673   7               0000000"
        "0000000000034400001020850                         090000000000000000000000000000"
        "0000000000000000000000000   000000000000000000000010303        170191449957"
    ),
    (
        "0010001300002U 17000000000000009000000000000001000000000000002000000000000003000"
        "0000000344000000000000342970000000000000040000000000000052912201102012012       "
        "     000000000000000                              000"
    ),
)

# spec/arquivos/CNAB240SANTANDER.RET, lines 3, 4 (published with trailing blanks trimmed)
SANTANDER_240_TU = (
    (
        "0339692300001T 02316380130028625        000000000140620000001406     01042016000"
        "00000000100003331638                         002000009073504630FULANO SANTOS    "
        "                       01300286250000000000003920000000000"
    ),
    (
        "0339692300002U 02000000000000000000000000000000000000000000000000000000000000000"
        "00000000100000000000000100000000000000000000000000000000001042016010420160000000"
        "00000000000000000000                              000"
    ),
)

# spec/arquivos/CNAB240SICOOB.RET, lines 3, 4 (published with trailing blanks trimmed)
SICOOB_240_TU = (
    (
        "7560001300001T 0603039000000004898160000000008301011     10000000000000011308201"
        "500000000000020075603039000000000000000000000000000920039977830001182A MATERIAIS"
        " ELETRICOS                  00000000000000000000001700000000003"
    ),
    (
        "7560001300002U 06000000000000000000000000000000000000000000000000000000000000000"
        "0000000002000000000000002000000000000000000000000000000001008201510082015    000"
        "00000000000000000000                              75600000000000000000000"
    ),
)

# spec/arquivos/CNAB240SICREDI.CRT, lines 3, 4 (published with trailing blanks trimmed)
SICREDI_240_TU = (
    (
        "7480001300001T 0200390 0000000041468 172000595           10000000000     1304201"
        "7000000000000995000      8457                     091000044952927838SURFISTAO ME"
        "DINA                        0000000000000000000000000A4"
    ),
    (
        "7480001300002U 02000000000000000000000000000000000000000000000000000000000000000"
        "00000000000000000000000000000000000000000000000000000000006042017               "
        "     000000000000000                              00000000000000000000000"
    ),
)

# spec/arquivos/CNAB400ITAU.RET, lines 2 (published with trailing blanks trimmed)
ITAU_400_DETAIL = (
    (
        "10216733872000107073000035110                                 00000011          "
        "  109000000114             I06200513          00000011            00000000000000"
        "0400010418739  00000000002100000000000000000000000000000000000000000000000000000"
        "0000000000000000000000379000000000000000000000000000   2105130000000000000000000"
        "0000                                                                    B5000002"
    ),
)

# spec/arquivos/CBR64310.RET, lines 2 (published with trailing blanks trimmed)
BB_400_DETAIL = (
    (
        "70000000000000000332510002893531622420                         16224200000000003"
        "10000001   01900000000000 1806200109                              00000000000000"
        "09064001149230022010900005000000000000000000000000000000000000000000000000000000"
        "00000000000000000000009064000000000000000000000000000000000000000000000000856420"
        "000000000000          0000000000000000000000000000000000000000000000000004000002"
    ),
)

# br_vectors.json cnab400_retorno (brcobranca spec/arquivos/CNAB400BRADESCO.RET line 2)
BRADESCO_400_RETURN_VECTOR = (
    "102120958700001700000009014670019669P                         000000000000000003030000"
    "0000000000000000000009021505150030      000000000000000000302505150000000145000237041"
    "57  00000000001600000000000000000000000000000000000000000000000000000000000000000000"
    "0000014500000000000000000000000000000   150515                 0000000000          "
    "                                                        000002"
)
BRADESCO_400_RETURN_EXPECTED = {  # position range -> (our field names, expected text)
    "1 tipo": (("record_type",), "1"),
    "25-29 agencia": (("branch",), "01467"),
    "30-37 conta+dv": (("account", "account_digit"), "0019669P"),
    "71-82 nosso_numero": (("our_number", "our_number_digit"), "000000000303"),
    "109-110 ocorrencia": (("occurrence",), "02"),
    "111-116 data_ocorrencia": (("occurrence_date",), "150515"),
    "147-152 vencimento": (("due_date",), "250515"),
    "153-165 valor": (("amount",), "0000000145000"),
    "166-168 banco": (("collecting_bank",), "237"),
    "169-173 agencia_cobradora+dv": (("collecting_branch",), "04157"),
    "176-188 tarifa": (("fee",), "0000000000160"),
    "254-266 valor_pago": (("amount_paid",), "0000000145000"),
    "267-279 juros_mora": (("interest_fine",), "0000000000000"),
    "296-301 data_credito": (("credit_date",), "150515"),
    "395-400 sequencial": (("sequence",), "000002"),
}


# ---------------------------------------------------------------------------
# Fields and records
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field, value, text, back",
    [
        (fixedwidth.num("n", 1, 5), "123", "00123", "00123"),
        (fixedwidth.num("n", 1, 5), 42, "00042", "00042"),
        (fixedwidth.num("n", 1, 3), "", "   ", ""),
        (fixedwidth.int_("i", 1, 6), 42, "000042", 42),
        (fixedwidth.alpha("a", 1, 6), "João", "Joao  ", "Joao"),
        (fixedwidth.text("t", 1, 5), "Conceição", "Conce", "Conce"),
        (fixedwidth.amount("v", 1, 10), D("12.34"), "0000001234", D("12.34")),
        (fixedwidth.amount("v", 1, 10), 7, "0000000700", D("7.00")),
        (fixedwidth.amount("v", 1, 4), "2.00", "0200", D("2.00")),
        (fixedwidth.amount("v", 1, 10, decimals=5), D("1.5"), "0000150000", D("1.50000")),
        (fixedwidth.date_("d", 1, 8), date(2026, 2, 5), "05022026", date(2026, 2, 5)),
        (fixedwidth.date_("d", 1, 6, "%d%m%y"), date(2026, 2, 5), "050226", date(2026, 2, 5)),
        (fixedwidth.date_("d", 1, 8), None, "00000000", None),
        (fixedwidth.time_("h", 1, 6), time(9, 5, 7), "090507", time(9, 5, 7)),
        (fixedwidth.num("n", 1, 2, "09"), None, "09", "09"),
    ],
)
def test_field_encode_decode(field, value, text, back):
    assert field.encode(value) == text
    assert field.decode(text) == back


@pytest.mark.parametrize(
    "field, value, message",
    [
        (fixedwidth.num("n", 1, 5), "12a", "expected digits"),
        (fixedwidth.num("n", 1, 3), "1234", "has 4 characters, the field holds 3"),
        (fixedwidth.num("n", 1, 3), -1, "expected digits"),
        (fixedwidth.int_("i", 1, 3), -1, "non-negative integer"),
        (fixedwidth.int_("i", 1, 3), True, "non-negative integer"),
        (fixedwidth.int_("i", 1, 3), 1000, "the field holds 3"),
        (fixedwidth.alpha("a", 1, 3), "ABCD", "the field holds 3"),
        (fixedwidth.alpha("a", 1, 3), "A\nB", "non-printable"),
        (fixedwidth.alpha("a", 1, 3), 12, "expected text"),
        (fixedwidth.amount("v", 1, 5), D("1.234"), "more than 2 decimal places"),
        (fixedwidth.amount("v", 1, 5), D("-1"), "non-negative amount"),
        (fixedwidth.amount("v", 1, 5), D("1000.00"), "does not fit in 5 digits"),
        (fixedwidth.amount("v", 1, 5), "x", "expected an amount"),
        (fixedwidth.date_("d", 1, 8), "2026-02-05", "expected a date"),
        (fixedwidth.time_("h", 1, 6), "0900", "expected a time"),
    ],
)
def test_field_encode_errors(field, value, message):
    with pytest.raises(ValueError, match=message):
        field.encode(value)


@pytest.mark.parametrize(
    "field, text, message",
    [
        (fixedwidth.num("n", 1, 3), "1A3", "expected digits"),
        (fixedwidth.int_("i", 1, 3), "1 3", "expected digits"),
        (fixedwidth.amount("v", 1, 5), "12,34", "expected digits"),
        (fixedwidth.date_("d", 1, 8), "31022026", "is not a date in format %d%m%Y"),
        (fixedwidth.time_("h", 1, 6), "250000", "is not a time"),
    ],
)
def test_field_decode_errors(field, text, message):
    with pytest.raises(ValueError, match=message):
        field.decode(text)


@pytest.mark.parametrize(
    "fields, message",
    [
        ((fixedwidth.num("a", 1, 5), fixedwidth.num("b", 5, 6)), "b overlaps a"),
        ((fixedwidth.num("a", 1, 5), fixedwidth.num("a", 6, 7)), "a defined twice"),
        ((fixedwidth.num("a", 8, 11),), "ends at 11, beyond 10"),
    ],
)
def test_record_layout_is_checked(fields, message):
    with pytest.raises(ValueError, match=message):
        Record("r", 10, fields)


def test_field_spec_is_checked():
    with pytest.raises(ValueError, match="unknown kind"):
        Field("x", 1, 2, "money")
    with pytest.raises(ValueError, match="bad positions"):
        Field("x", 3, 2)
    with pytest.raises(ValueError, match="const field needs a default"):
        Field("x", 1, 2, const=True)


def test_derive_replaces_overlapping_and_renamed_fields():
    base = Record(
        "r", 10, (fixedwidth.num("a", 1, 4), fixedwidth.num("b", 5, 6), fixedwidth.num("c", 7, 10))
    )
    derived = base.derive(fixedwidth.num("x", 3, 5), fixedwidth.num("c", 9, 10))
    # a and b overlap x; c moves
    assert [(f.name, f.start, f.end) for f in derived.fields] == [("x", 3, 5), ("c", 9, 10)]
    assert derived.to_line({"x": "7"}) == "  007   00"
    assert derived.derive(defaults={"c": "12"}).to_line({"x": "7"}) == "  007   12"
    assert base.to_line({"a": "1", "b": "2", "c": "3"}) == "0001020003"  # base unchanged


def test_record_write_and_read_report_the_field():
    record = Record(
        "r",
        12,
        (
            fixedwidth.const("record_type", 1, 1, "1"),
            fixedwidth.amount("amount", 2, 8),
            fixedwidth.alpha("name", 9, 12),
        ),
    )
    assert record.to_line({"amount": D("1.5"), "name": "AB"}) == "10000150AB  "
    with pytest.raises(cnab.CnabError) as exc:
        record.to_line({"amount": D("1.5"), "nmae": "AB"}, line_number=7)
    assert (exc.value.line_number, exc.value.field) == (7, "nmae")
    with pytest.raises(cnab.CnabError, match="line 3: amount: .* does not fit in 7 digits"):
        record.to_line({"amount": D("100000")}, line_number=3)
    values, errors = record.from_line("200001X0AB  ", line_number=4)
    assert [(e.line_number, e.field) for e in errors] == [(4, "record_type"), (4, "amount")]
    assert values == {"name": "AB"}
    values, errors = record.from_line("10000150AB", line_number=5)
    assert errors[0].field == "line" and "has 10 characters, expected 12" in errors[0].message


# hypothesis strategies for one field's value, and the value it reads back as
def _value(field):
    if field.kind == "num":
        full = st.text(alphabet="0123456789", min_size=field.width, max_size=field.width)
        return st.one_of(full, st.just("")).map(lambda v: (v, v))
    if field.kind == "doc":
        chars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        full = st.text(alphabet=chars, min_size=field.width, max_size=field.width)
        return st.one_of(full, st.just("")).map(lambda v: (v, v))
    if field.kind == "int":
        return st.integers(0, 10**field.width - 1).map(lambda v: (v, v))
    if field.kind == "amount":
        return st.integers(0, 10**field.width - 1).map(
            lambda v: (D(v).scaleb(-field.decimals), D(v).scaleb(-field.decimals))
        )
    if field.kind == "alpha":
        chars = st.characters(min_codepoint=32, max_codepoint=126)
        return st.text(alphabet=chars, max_size=field.width).map(lambda v: (v, v.rstrip()))
    if field.kind == "time":
        return st.times().map(lambda t: t.replace(microsecond=0)).map(lambda v: (v, v))
    low, high = (
        (date(1969, 1, 1), date(2068, 12, 31))
        if "%y" in field.fmt
        else (
            date(1900, 1, 1),
            date(2099, 12, 31),
        )
    )
    return st.one_of(st.none(), st.dates(low, high)).map(lambda v: (v, v))


def _all_records():
    records = []
    for bank in cnab_layouts.CNAB240_BANKS:
        for direction in ("remittance", "return"):
            records += list(cnab.cnab240_layout(bank, direction).values())
    for layout in cnab_layouts.CNAB400.values():
        records += list(layout.values())
    records += list(cnab150.RECORDS.values())
    return records


ALL_RECORDS = _all_records()


@st.composite
def record_values(draw):
    record = draw(st.sampled_from(ALL_RECORDS))
    written, expected = {}, {}
    for field in record.fields:
        if field.filler or field.const:
            continue
        value, back = draw(_value(field))
        written[field.name], expected[field.name] = value, back
    return record, written, expected


@given(record_values())
def test_record_write_read_round_trip(case):
    record, written, expected = case
    line = record.to_line(written)
    assert len(line) == record.length
    values, errors = record.from_line(line)
    assert errors == []
    assert {k: v for k, v in values.items() if k in expected} == expected


# ---------------------------------------------------------------------------
# CNAB 240: public remittance files, written back byte for byte
# ---------------------------------------------------------------------------

REMITTANCE_240 = {
    "001": BB_240,
    "033": SANTANDER_240,
    "104": CAIXA_240,
    "756": SICOOB_240,
    "748": SICREDI_240,
}


@pytest.mark.parametrize("bank", sorted(REMITTANCE_240))
def test_public_240_remittance_reads_and_writes_back(bank):
    lines = REMITTANCE_240[bank]
    parsed = cnab.parse_cnab240(_file(lines))
    assert parsed.bank == bank
    assert [r.kind for r in parsed.records] == [
        "file_header",
        "batch_header",
        "P",
        "Q",
        "R",
        "batch_trailer",
        "file_trailer",
    ]
    layout = cnab.cnab240_layout(bank, "remittance")
    for record, line in zip(parsed.records, lines, strict=True):
        if bank == "033" and record.kind == "batch_trailer":
            # Santander leaves 24-240 blank in a remittance but fills the
            # FEBRABAN counts in its return: we write zeros there
            continue
        assert layout[record.kind].to_line(record.values) == line, record.kind


def test_public_240_remittance_values():
    # brcobranca spec inputs: valor 199.9, nosso número 123, documento 6969,
    # pagador 12345678901, CEP 12345678, "Santa rita de cássia", SP
    parsed = cnab.parse_cnab240(_file(BB_240))
    header, p, q = parsed.records[0], parsed.of_kind("P")[0], parsed.of_kind("Q")[0]
    assert header["file_version"] == "083" and header["generated_on"] == date(2015, 7, 14)
    assert header["generated_at"] == time(16, 15, 15)
    assert p["our_number"] == "12345670000000123"  # convênio 1234567 + 0000000123
    assert (p["movement"], p["amount"], p["due_date"]) == ("01", D("199.90"), date(2015, 7, 14))
    assert q["payer_document"] == "000012345678901"
    assert (q["payer_name"], q["payer_city"], q["payer_state"]) == (
        "PABLO DIEGO JOSE FRANCISCO DE PAULA JUAN",
        "SANTA RITA DE C",
        "SP",
    )
    assert q["payer_postal_code"] == "12345678"
    caixa_p = cnab.parse_cnab240(_file(CAIXA_240)).of_kind("P")[0]
    assert caixa_p["agreement"] == "123456"
    assert caixa_p["our_number"] == "14000000000000123"  # modalidade 14 + 15 digits
    santander_p = cnab.parse_cnab240(_file(SANTANDER_240)).of_kind("P")[0]
    assert santander_p["our_number"] == "000001234567"
    assert santander_p["our_number_digit"] == "9"
    assert boleto.our_number(
        "033", beneficiary_code="1234567", our_number="1234567", portfolio="101"
    ).endswith("-9")


# ---------------------------------------------------------------------------
# CNAB 240: public return details (segments T and U)
# ---------------------------------------------------------------------------


def _return_records(bank, lines):
    layout = cnab.cnab240_layout(bank, "return")
    records = []
    for number, line in enumerate(lines, 1):
        line = line.ljust(240)
        values, errors = layout[line[13]].from_line(line, number)
        assert errors == []
        records.append(cnab.CnabRecord(number, line[13], values))
    return cnab.CnabFile(records=records, bank=bank)


@pytest.mark.parametrize(
    "bank, lines, expected",
    [
        (
            "001",
            BB_240_TU,
            {
                "occurrence": "17",
                "kind": "paid",
                "our_number": "14499570000020673",
                "amount": D("344.00"),
                "fee": D("1.03"),
                "rejection_reasons": ("03",),
                "interest_fine": D("0.09"),
                "discount": D("0.01"),
                "rebate": D("0.02"),
                "amount_paid": D("344.00"),
                "net_amount": D("342.97"),
                "occurrence_date": date(2011, 12, 29),
                "credit_date": date(2012, 1, 2),
            },
        ),
        (
            # brcobranca retorno/cnab240/santander_spec.rb expectations
            "033",
            SANTANDER_240_TU,
            {
                "occurrence": "02",
                "kind": "registered",
                "our_number": "000000000140",  # brcobranca: "0000000001406", with the DV
                "due_date": date(2016, 4, 1),
                "amount": D("10.00"),
                "fee": D("3.92"),
                "rejection_reasons": (),
                "amount_paid": D("10.00"),
                "credit_date": date(2016, 4, 1),
            },
        ),
        (
            "756",
            SICOOB_240_TU,
            {
                "occurrence": "06",
                "kind": "paid",
                "our_number": "000000008301011",
                "due_date": date(2015, 8, 13),
                "amount": D("2.00"),
                "fee": D("1.70"),
                "amount_paid": D("2.00"),
                "credit_date": date(2015, 8, 10),
            },
        ),
        (
            "748",
            SICREDI_240_TU,
            {
                "occurrence": "02",
                "kind": "registered",
                "our_number": "172000595",
                "due_date": date(2017, 4, 13),
                "amount": D("9.95"),
                "rejection_reasons": ("A4",),
                "occurrence_date": date(2017, 4, 6),
                "credit_date": None,
            },
        ),
    ],
)
def test_public_240_return_details(bank, lines, expected):
    (item,) = cnab.cnab240_return_items(_return_records(bank, lines))
    assert {name: getattr(item, name) for name in expected} == expected
    assert item.line_number == 1


def test_santander_return_collecting_branch():
    record = _return_records("033", SANTANDER_240_TU).records[0]
    assert record["our_number_digit"] == "6" == boleto.mod11_zero(record["our_number"])
    assert (record["collecting_bank"], record["collecting_branch"]) == ("033", "3163")
    assert (record["branch"], record["account"], record["account_digit"]) == (
        "3163",
        "013002862",
        "5",
    )


# ---------------------------------------------------------------------------
# CNAB 240: remittance written by us, parsed back
# ---------------------------------------------------------------------------

PAYER = cnab.Payer(
    name="Maria José da Conceição",
    document="390.533.447-05",
    address="Rua das Acácias, 100",
    district="Jardim Paulista",
    postal_code="01310-100",
    city="São Paulo",
    state="SP",
)

BENEFICIARIES = {
    "001": {"agreement": "1234567", "branch": "1234", "account": "12345"},
    "033": {"agreement": "000100001234567", "branch": "0001", "account": "013001234"},
    "104": {"agreement": "123456", "branch": "1234", "account": "5678"},
    "237": {"agreement": "4540691", "branch": "1172", "account": "0403005"},
    "341": {"agreement": "", "branch": "0810", "account": "53678", "portfolio": "109"},
    "748": {"agreement": "12345", "branch": "0710", "account": "00129"},
    "756": {"agreement": "229385", "branch": "4327", "account": "417270"},
}


def _beneficiary(bank):
    return cnab.Beneficiary(
        bank=bank,
        name="Empresa Exemplo de Cobrança Recorrente Ltda",
        document="16.727.230/0001-97",
        branch_digit="0",
        account_digit="1",
        **BENEFICIARIES[bank],
    )


def _titles():
    return [
        cnab.Title(
            our_number="12345678",
            our_number_digit="4",
            due_date=date(2026, 3, 10),
            amount=D("1234.56"),
            document_number="NF-2026-001",
            payer=PAYER,
            issue_date=date(2026, 2, 5),
            interest_code="1",
            interest_date=date(2026, 3, 11),
            interest=D("0.41"),
            discount_code="1",
            discount_date=date(2026, 3, 5),
            discount=D("12.34"),
            fine_code="2",
            fine_date=date(2026, 3, 11),
            fine=D("2.00"),
            company_use="CONTRACT-42/2026-03",
        ),
        cnab.Title(
            our_number="12345679",
            due_date=date(2026, 4, 10),
            amount=D("99.90"),
            movement=cnab_layouts.MOVEMENTS["write_off"],
        ),
        cnab.Title(
            our_number="12345680",
            due_date=date(2026, 5, 15),
            amount=D("10.00"),
            movement=cnab_layouts.MOVEMENTS["change_due_date"],
        ),
    ]


@pytest.mark.parametrize("bank", sorted(cnab_layouts.CNAB240_BANKS))
def test_240_remittance_round_trip(bank):
    titles = _titles()
    content = cnab.cnab240_remittance(
        _beneficiary(bank), titles, file_sequence=42, generated_at=datetime(2026, 2, 5, 9, 30)
    )
    lines = content.split("\r\n")
    assert lines[-1] == "" and all(len(line) == 240 for line in lines[:-1])
    parsed = cnab.parse_cnab240(content)
    assert [r.kind for r in parsed.records] == [
        "file_header",
        "batch_header",
        "P",
        "Q",
        "R",
        "P",
        "P",
        "batch_trailer",
        "file_trailer",
    ]
    header = parsed.records[0]
    assert (header["bank"], header["file_type"], header["file_sequence"]) == (bank, "1", 42)
    assert header["company_document"][-14:] == "16727230000197"
    assert header["company_name"] == "EMPRESA EXEMPLO DE COBRANCA RE"  # folded, cut at 30
    assert header["file_version"] == cnab_layouts.CNAB240_BANKS[bank].file_version
    if "generated_at" in header.values:
        assert header["generated_on"] == date(2026, 2, 5)
        assert header["generated_at"] == time(9, 30)
    ps = parsed.of_kind("P")
    for p, title in zip(ps, titles, strict=True):
        assert p["movement"] == title.movement
        assert p["our_number"].lstrip("0") == title.our_number.lstrip("0")
        assert p["due_date"] == title.due_date
        assert p["amount"] == title.amount
    assert ps[0]["document_number"] == "NF-2026-001"
    assert ps[0]["issue_date"] == date(2026, 2, 5)
    assert (ps[0]["interest_code"], ps[0]["interest"]) == ("1", D("0.41"))
    assert (ps[0]["discount_date"], ps[0]["discount"]) == (date(2026, 3, 5), D("12.34"))
    assert ps[0]["company_use"] == "CONTRACT-42/2026-03"
    assert ps[0]["document_kind"] == "02" and ps[0]["currency"] == "09"
    (q,) = parsed.of_kind("Q")
    assert (q["payer_document_type"], q["payer_document"]) == ("1", "000039053344705")
    assert q["payer_name"] == "MARIA JOSE DA CONCEICAO"
    assert q["payer_address"] == "RUA DAS ACACIAS, 100"
    assert (q["payer_postal_code"], q["payer_city"], q["payer_state"]) == (
        "01310100",
        "SAO PAULO",
        "SP",
    )
    (r,) = parsed.of_kind("R")
    assert (r["fine_code"], r["fine_date"], r["fine"]) == ("2", date(2026, 3, 11), D("2.00"))
    batch_trailer, file_trailer = parsed.records[-2:]
    assert batch_trailer["record_count"] == 7
    assert file_trailer["batch_count"] == 1 and file_trailer["record_count"] == 9
    if bank == "341":
        assert ps[0]["portfolio"] == "109" and ps[0]["our_number_digit"] == "4"


def test_240_remittance_rejects_bad_input():
    beneficiary = _beneficiary("001")
    bad_movement = cnab.Title(our_number="1", due_date=date(2026, 1, 1), amount=1, movement="99")
    with pytest.raises(cnab.CnabError, match="line 3: movement: unknown movement '99'"):
        cnab.cnab240_remittance(beneficiary, [bad_movement], 1, datetime(2026, 1, 1))
    too_big = cnab.Title(our_number="1", due_date=date(2026, 1, 1), amount=D("1e13"))
    with pytest.raises(cnab.CnabError, match="line 3: amount: .* does not fit in 15 digits"):
        cnab.cnab240_remittance(beneficiary, [too_big], 1, datetime(2026, 1, 1))
    bad_payer = cnab.Title(
        our_number="1",
        due_date=date(2026, 1, 1),
        amount=1,
        payer=cnab.Payer(name="X", document="123.456.789-00"),
    )
    with pytest.raises(ValueError, match="not a valid CPF"):
        cnab.cnab240_remittance(beneficiary, [bad_payer], 1, datetime(2026, 1, 1))
    with pytest.raises(cnab.CnabError, match="no CNAB 240 layout for bank '077'"):
        cnab.cnab240_layout("077")


# ---------------------------------------------------------------------------
# CNAB 240: return files written with the layouts, parsed back
# ---------------------------------------------------------------------------


def _write(record, values):
    return record.to_line({k: v for k, v in values.items() if k in record.names})


def _return_240(bank, details):
    """A return file: ``details`` are (occurrence, our number, amount paid,
    rejection reasons) tuples, one T + U pair each."""
    layout = cnab.cnab240_layout(bank, "return")
    common = {"batch": 1, "company_document_type": "2", "company_document": "16727230000197"}
    lines = [
        _write(
            layout["file_header"],
            {**common, "file_type": "2", "generated_on": date(2026, 3, 12), "file_sequence": 7},
        ),
        _write(layout["batch_header"], {**common, "operation": "T"}),
    ]
    sequence = 0
    for occurrence, our_number, paid, reasons in details:
        sequence += 1
        t = {
            **common,
            "sequence": sequence,
            "occurrence": occurrence,
            "our_number": our_number,
            "due_date": date(2026, 3, 10),
            "amount": D("1234.56"),
            "fee": D("2.50"),
            "rejection_reasons": reasons,
        }
        lines.append(_write(layout["T"], t))
        sequence += 1
        u = {
            **common,
            "sequence": sequence,
            "occurrence": occurrence,
            "amount_paid": paid,
            "net_amount": paid - D("2.50") if paid else D(0),
            "interest_fine": D("1.23"),
            "occurrence_date": date(2026, 3, 11),
            "credit_date": date(2026, 3, 12),
        }
        lines.append(_write(layout["U"], u))
    lines.append(_write(layout["batch_trailer"], {**common, "record_count": sequence + 2}))
    lines.append(layout["file_trailer"].to_line({"batch_count": 1, "record_count": len(lines) + 1}))
    return _file(lines)


@pytest.mark.parametrize("bank", sorted(cnab_layouts.CNAB240_BANKS))
def test_240_return_items(bank):
    content = _return_240(
        bank,
        [
            ("06", "12345678", D("1235.79"), ""),
            ("03", "12345679", D(0), "A4  0312"),
            ("02", "12345680", D(0), "0000000000"),
        ],
    )
    parsed = cnab.parse_cnab240(content)
    paid, rejected, registered = cnab.cnab240_return_items(parsed)
    assert (paid.kind, paid.description, paid.line_number) == ("paid", "Liquidação", 3)
    assert paid.our_number.lstrip("0") == "12345678"
    assert (paid.amount, paid.amount_paid, paid.net_amount) == (
        D("1234.56"),
        D("1235.79"),
        D("1233.29"),
    )
    assert (paid.interest_fine, paid.fee) == (D("1.23"), D("2.50"))
    assert (paid.occurrence_date, paid.credit_date) == (date(2026, 3, 11), date(2026, 3, 12))
    assert (rejected.kind, rejected.rejection_reasons) == ("rejected", ("A4", "03", "12"))
    assert (registered.kind, registered.rejection_reasons) == ("registered", ())


def test_caixa_own_occurrence_code():
    parsed = cnab.parse_cnab240(_return_240("104", [("46", "14000000000000123", D(10), "")]))
    (item,) = cnab.cnab240_return_items(parsed)
    assert (item.kind, item.description) == ("paid", "Liquidação on-line")
    assert item.our_number == "14000000000000123"
    (unknown,) = cnab.cnab240_return_items(
        cnab.parse_cnab240(_return_240("001", [("46", "1", D(10), "")]))
    )
    assert (unknown.kind, unknown.description) == ("other", "ocorrência 46")


# ---------------------------------------------------------------------------
# CNAB 240: errors carry the line number and the field
# ---------------------------------------------------------------------------


def _remittance_lines(bank="001"):
    content = cnab.cnab240_remittance(
        _beneficiary(bank), _titles(), file_sequence=1, generated_at=datetime(2026, 2, 5, 9, 30)
    )
    return content.split("\r\n")[:-1]


def _put(line, start, text):
    return line[: start - 1] + text + line[start - 1 + len(text) :]


def test_malformed_amount_is_reported_with_line_and_field():
    lines = _remittance_lines()
    lines[2] = _put(lines[2], 86, "00000000012X456")
    with pytest.raises(cnab.CnabError) as exc:
        cnab.parse_cnab240(_file(lines))
    assert (exc.value.line_number, exc.value.field) == (3, "amount")
    assert "expected digits, got '00000000012X456'" in str(exc.value)


def test_errors_are_collected_when_not_strict():
    lines = _remittance_lines()
    lines[2] = _put(lines[2], 78, "31022026")  # P due date
    lines[3] = lines[3][:200]  # Q cut short
    lines[5] = _put(lines[5], 14, "X")  # unknown segment
    lines[6] = _put(lines[6], 9, "00009")  # P sequence
    lines[7] = _put(lines[7], 18, "000009")  # batch trailer count
    parsed = cnab.parse_cnab240(_file(lines), strict=False)
    found = [(e.line_number, e.field) for e in parsed.errors]
    assert found == [
        (3, "due_date"),
        (4, "line"),
        (6, "segment"),
        (7, "sequence"),
        (8, "record_count"),
    ]
    assert "is 9, expected 7 (records in the batch)" in str(parsed.errors[-1])
    assert [r.line_number for r in parsed.records] == [1, 2, 3, 5, 7, 8, 9]


@pytest.mark.parametrize(
    "change, line_number, field",
    [
        (lambda lines: lines.__setitem__(4, _put(lines[4], 9, "00009")), 5, "sequence"),
        (lambda lines: lines.__setitem__(2, _put(lines[2], 4, "0002")), 3, "batch"),
        (lambda lines: lines.__setitem__(2, _put(lines[2], 1, "237")), 3, "bank"),
        (lambda lines: lines.__setitem__(8, _put(lines[8], 24, "000010")), 9, "record_count"),
        (lambda lines: lines.__setitem__(8, _put(lines[8], 18, "000002")), 9, "batch_count"),
        (lambda lines: lines.__setitem__(2, _put(lines[2], 8, "7")), 3, "record_type"),
        (lambda lines: lines.pop(), 8, "record_type"),  # no file trailer
        (lambda lines: lines.pop(0), 1, "file_type"),  # batch header first
    ],
)
def test_structure_errors(change, line_number, field):
    lines = _remittance_lines()
    change(lines)
    parsed = cnab.parse_cnab240(_file(lines), strict=False) if field != "file_type" else None
    if parsed is not None:
        assert (line_number, field) in [(e.line_number, e.field) for e in parsed.errors]
    with pytest.raises(cnab.CnabError) as exc:
        cnab.parse_cnab240(_file(lines))
    if field == "file_type":
        assert (exc.value.line_number, exc.value.field) == (line_number, field)


def test_unknown_bank_in_header():
    lines = _remittance_lines()
    lines = [_put(line, 1, "077") for line in lines]
    with pytest.raises(cnab.CnabError, match="line 1: bank: no CNAB 240 layout for bank '077'"):
        cnab.parse_cnab240(_file(lines))


def test_trimmed_lines_need_padding():
    content = _file(line.rstrip() for line in _remittance_lines())
    with pytest.raises(cnab.CnabError, match="line 1: line: has .* characters, expected 240"):
        cnab.parse_cnab240(content)
    assert cnab.parse_cnab240(content, pad_short_lines=True).errors == []
    assert cnab.parse_cnab240(content.encode("latin-1") + b"\x1a", pad_short_lines=True)


def test_empty_file():
    with pytest.raises(cnab.CnabError, match="position 143 must be 1 or 2"):
        cnab.parse_cnab240("")


# ---------------------------------------------------------------------------
# CNAB 400
# ---------------------------------------------------------------------------


def test_cnab400_return_vector():
    layout = cnab.cnab400_layout("237", "return")["detail"]
    line = BRADESCO_400_RETURN_VECTOR
    assert len(line) == 400
    values, errors = layout.from_line(line, 2)
    assert errors == []
    for positions, (names, expected) in BRADESCO_400_RETURN_EXPECTED.items():
        span = positions.split()[0]
        start, _, end = span.partition("-")
        fields = [layout[name] for name in names]
        # our layout puts these fields exactly where the vector says
        assert (fields[0].start, fields[-1].end) == (int(start), int(end or start)), positions
        assert "".join(f.encode(values[f.name]) for f in fields) == expected, positions
    assert values["our_number"] == "00000000030" and values["our_number_digit"] == "3"
    assert values["amount"] == D("1450.00") and values["fee"] == D("1.60")
    assert values["due_date"] == date(2015, 5, 25)
    assert values["credit_date"] == date(2015, 5, 15)


def _bradesco_return_file(details):
    layout = cnab.cnab400_layout("237", "return")
    header = layout["header"].to_line(
        {
            "service_literal": "COBRANCA",
            "agreement": "4540691",
            "company_name": "NOME DA EMPRESA",
            "bank": "237",
            "bank_name": "BRADESCO",
            "generated_on": date(2015, 5, 15),
            "sequence": 1,
        }
    )
    trailer = layout["trailer"].to_line({"bank": "237", "sequence": len(details) + 2})
    return _file([header, *details, trailer])


def test_cnab400_return_vector_as_a_file():
    parsed = cnab.parse_cnab400(_bradesco_return_file([BRADESCO_400_RETURN_VECTOR]))
    assert parsed.bank == "237"
    (item,) = cnab.cnab400_return_items(parsed)
    assert (item.occurrence, item.kind, item.description) == (
        "02",
        "registered",
        "Entrada confirmada",
    )
    assert item.our_number == "00000000030"
    assert (item.amount, item.amount_paid, item.fee) == (D("1450.00"), D("1450.00"), D("1.60"))
    assert (item.occurrence_date, item.due_date) == (date(2015, 5, 15), date(2015, 5, 25))


def test_itau_400_return_detail():
    # brcobranca retorno/cnab400/itau_spec.rb expectations for this line
    line = ITAU_400_DETAIL[0].ljust(400)
    values, errors = cnab.cnab400_layout("341", "return")["detail"].from_line(line, 2)
    assert errors == []
    assert (values["branch"], values["account"], values["account_digit"]) == (
        "0730",
        "03511",
        "0",
    )
    assert (values["our_number"], values["portfolio"], values["portfolio_code"]) == (
        "00000011",
        "109",
        "I",
    )
    assert values["our_number_digit"] == "4"
    assert (values["occurrence"], values["occurrence_date"]) == ("06", date(2013, 5, 20))
    assert values["due_date"] is None  # 000000
    assert (values["amount"], values["amount_paid"], values["fee"]) == (
        D("40.00"),
        D("37.90"),
        D("2.10"),
    )
    assert (values["collecting_bank"], values["collecting_branch"]) == ("104", "1873")
    assert values["collecting_branch_digit"] == "9"
    assert values["credit_date"] == date(2013, 5, 21)


def test_bb_400_return_detail():
    # brcobranca retorno_cbr643_spec.rb expectations for this line
    line = BB_400_DETAIL[0].ljust(400)
    values, errors = cnab.cnab400_layout("001", "return")["detail"].from_line(line, 2)
    assert errors == []
    assert values["branch"] + values["branch_digit"] == "33251"
    assert values["account"] + values["account_digit"] == "000289353"
    assert values["agreement"] == "1622420"
    assert values["our_number"] == "16224200000000003"
    assert values["occurrence_date"] == date(2009, 1, 20)
    assert values["credit_date"] == date(2009, 1, 22)
    assert values["amount_paid"] == D("90.64")
    assert values["fee"] == D("5.00")


def test_public_bradesco_400_remittance_reads_and_writes_back():
    parsed = cnab.parse_cnab400(_file(BRADESCO_400))
    layout = cnab.cnab400_layout("237", "remittance")
    for record, line in zip(parsed.records, BRADESCO_400, strict=True):
        assert layout[record.kind].to_line(record.values) == line
    detail = parsed.of_kind("detail")[0]
    # brcobranca spec inputs: carteira 01, agência 12345, conta 1234567-1,
    # nosso número 123, multa 2%, valor 199.9, numero 1, documento 6969
    assert (detail["portfolio"], detail["branch"], detail["account"]) == (
        "001",
        "12345",
        "1234567",
    )
    assert (detail["our_number"], detail["our_number_digit"]) == ("00000000123", "P")
    assert boleto.our_number(
        "237", branch="12345"[-4:], account="1234567", portfolio="01", our_number="123"
    ).endswith("-P")
    assert (detail["fine_code"], detail["fine"]) == ("2", D("2.00"))
    assert (detail["amount"], detail["document_number"], detail["company_use"]) == (
        D("199.90"),
        "1",
        "6969",
    )


def test_bradesco_400_remittance_from_titles_matches_the_public_file():
    beneficiary = cnab.Beneficiary(
        bank="237",
        name="SOCIEDADE BRASILEIRA DE ZOOLOGIA LTDA",
        document="16727230000197",
        branch="12345",
        account="1234567",
        account_digit="1",
        agreement="123",
        portfolio="01",
    )
    title = cnab.Title(
        our_number="123",
        our_number_digit="P",
        due_date=date(2015, 7, 14),
        amount=D("199.9"),
        document_number="1",
        company_use="6969",
        issue_date=date(2015, 7, 14),
        fine_code="2",
        fine=D("2.00"),
        payer=cnab.Payer(
            name="PABLO DIEGO JOSE FRANCISCO DE PAULA JUAN NEPOMUCENO",
            document="390.533.447-05",  # the public file's 123.456.789-01 is not a valid CPF
            address="RUA RIO GRANDE DO SU SANTA RITA DE CSP",
            postal_code="12345678",
        ),
    )
    lines = cnab.cnab400_remittance(beneficiary, [title], 1, date(2015, 7, 14)).split("\r\n")
    assert lines[0] == BRADESCO_400[0]
    assert lines[1] == _put(BRADESCO_400[1], 221, "00039053344705")
    assert lines[2] == BRADESCO_400[2]


def test_cnab400_errors():
    lines = list(BRADESCO_400)
    lines[1] = _put(lines[1], 395, "000005")
    parsed = cnab.parse_cnab400(_file(lines), strict=False)
    assert [(e.line_number, e.field) for e in parsed.errors] == [(2, "sequence")]
    lines[1] = _put(lines[1], 1, "5")
    with pytest.raises(cnab.CnabError, match="line 2: record_type: unknown record type '5'"):
        cnab.parse_cnab400(_file(lines))
    with pytest.raises(cnab.CnabError, match="no CNAB 400 remittance layout for bank '104'"):
        cnab.cnab400_layout("104", "remittance")
    with pytest.raises(cnab.CnabError, match="position 2 must be 1 or 2"):
        cnab.parse_cnab400(_file(["0X" + BRADESCO_400[0][2:]]))
    with pytest.raises(cnab.CnabError, match="line 3: record_type: the last line must be"):
        cnab.parse_cnab400(_file(BRADESCO_400[:2] + (BRADESCO_400[1][:-1] + "3",)))
