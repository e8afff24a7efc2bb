"""Bank variants of ``rbm_dunning/engine/boleto.py``: Banco do Brasil
convênios of 4 and 6 digits, Caixa's 7-digit código do beneficiário, Itaú's
"seu número" carteiras, and free fields of unknown layouts.

Published vectors: kivanio/brcobranca, commit 325e0eae69ad298477b935a441a22c61c7556f31,
spec/brcobranca/boleto/banco_brasil_spec.rb ("convenio de 6 digitos e nosso
numero de 5", "convenio de 4 digitos e nosso numero de 7", "Montar
nosso_numero_boleto") and spec/brcobranca/boleto/itau_spec.rb ("Gerar
boleto", carteira 196 with seu número). Values that no published example
gives are worked out by hand in the comments.
"""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rbm_dunning_engine import boleto as b

D = Decimal

# ---------------------------------------------------------------------------
# Banco do Brasil, convênios of 4 and 6 digits
# ---------------------------------------------------------------------------

BB_SPEC = {"branch": "4042", "account": "61900", "portfolio": "18"}  # banco_brasil_spec.rb


def test_bb_agreement6_published_example():
    # banco_brasil_spec.rb "convenio de 6 digitos e nosso numero de 5": convênio
    # 123879, nosso número 1234, due 2008-02-01, R$ 135,00
    boleto = b.make_boleto(
        "001", date(2008, 2, 1), D("135.00"), agreement="123879", sequence="1234", **BB_SPEC
    )
    assert boleto.free_field == "1238790123440420006190018"
    assert boleto.barcode == "00192376900000135001238790123440420006190018"
    assert boleto.typeable_line == "00191.23876 90123.440423 00061.900189 2 37690000013500"
    # DV by hand: 12387901234, weights 9..2 from the right:
    # 4*9+3*8+2*7+1*6+0*5+9*4+7*3+8*2+3*9+2*8+1*7 = 203; 203 mod 11 = 5
    assert boleto.our_number == "12387901234-5"
    assert boleto.layout == "agreement6"
    parsed = b.parse_boleto(boleto.typeable_line, today=date(2008, 1, 15))
    assert parsed == boleto


def test_bb_agreement4_published_example():
    # banco_brasil_spec.rb "convenio de 4 digitos e nosso numero de 7": convênio
    # 1238, nosso número 123456
    boleto = b.make_boleto(
        "001", date(2008, 2, 1), D("135.00"), agreement="1238", sequence="123456", **BB_SPEC
    )
    assert boleto.free_field == "1238012345640420006190018"
    assert boleto.barcode == "00191376900000135001238012345640420006190018"
    assert boleto.typeable_line == "00191.23801 12345.640424 00061.900189 1 37690000013500"
    # DV by hand: 12380123456 -> 6*9+5*8+4*7+3*6+2*5+1*4+0*3+8*2+3*9+2*8+1*7 = 220,
    # 220 mod 11 = 0
    assert boleto.our_number == "12380123456-0"
    # the barcode alone reads as a 6-digit convênio too: the account says which
    assert b.parse_boleto(boleto.barcode, today=date(2008, 1, 15)).layout == "agreement6"
    parsed = b.parse_boleto(boleto.barcode, today=date(2008, 1, 15), variant="agreement4")
    assert parsed == boleto


@pytest.mark.parametrize(
    "number, digit",
    # banco_brasil_spec.rb "Montar nosso_numero_boleto" (convênio 12387989)
    [("12387989000004042", "4"), ("12387989000061900", "7"), ("12387989000000719", "2")],
)
def test_bb_our_number_digit_published(number, digit):
    assert b.mod11_bb(number) == digit


def test_bb_our_number_digit_x():
    # by hand: 00000000006 -> 6*9 = 54, 54 mod 11 = 10 -> X;
    # 10000000004 -> 4*9 + 1*7 = 43, 43 mod 11 = 10 -> X
    assert b.mod11_bb("00000000006") == "X"
    assert b.our_number("001", agreement="1000", sequence="4", **BB_SPEC) == "10000000004-X"


@pytest.mark.parametrize("agreement", ["12345", "12345678"])
def test_bb_agreement_of_unknown_length(agreement):
    with pytest.raises(b.BoletoError, match="no free-field layout of bank 001") as exc:
        b.make_boleto("001", date(2026, 3, 10), D("1.00"), agreement=agreement, sequence="1")
    assert exc.value.field == "agreement"


def test_bb_agreement7_unchanged():
    # 7-digit convênios keep their layout and ignore agência/conta
    fields = {**BB_SPEC, "portfolio": "17"}
    boleto = b.make_boleto(
        "001", date(2026, 3, 10), D("1234.56"), agreement="2345678", sequence="1", **fields
    )
    assert boleto.typeable_line == "00190.00009 02345.678003 00000.001172 7 13810000123456"
    assert boleto.layout == "agreement7"


# ---------------------------------------------------------------------------
# Caixa, código do beneficiário of 7 digits
# ---------------------------------------------------------------------------


def test_caixa_beneficiary7_by_hand():
    # Caixa's barcode specification (SIGCB, "Especificações do código de
    # barras", beneficiaries from 1100000): positions 20-26 hold the 7-digit
    # code without a check digit, then our number as with 6 digits.
    # Free field by hand for code 1234567, our number 14000000000012345:
    #   1234567 | NN[3-5] 000 | NN[1] 1 | NN[6-8] 000 | NN[2] 4 | NN[9-17] 000012345
    #   = 123456700010004000012345; DV mod 11, weights 2..9 from the right:
    #   5*2+4*3+3*4+2*5+1*6+4*3+1*7+7*3+6*4+5*5+4*6+3*7+2*8+1*9 = 209,
    #   209 mod 11 = 0, 11 - 0 = 11 -> 0
    boleto = b.make_boleto(
        "104",
        date(2026, 3, 10),
        D("1234.56"),
        beneficiary_code="1234567",
        our_number="14000000000012345",
    )
    assert boleto.free_field == "1234567000100040000123450"
    assert boleto.layout == "beneficiary7"
    assert boleto.our_number == "14000000000012345-0"  # as with 6 digits (test_dunning_boleto)
    assert boleto.barcode == b.barcode("104", date(2026, 3, 10), D("1234.56"), boleto.free_field)
    parsed = b.parse_boleto(boleto.typeable_line, today=date(2026, 3, 1))
    assert parsed == boleto


def test_caixa_beneficiary6_still_first():
    parsed = b.parse_free_field("104", "2452740000100040000000017")
    assert parsed["beneficiary_code"] == "245274" and parsed["beneficiary_digit"] == "0"


def test_caixa_beneficiary7_was_a_wrong_check_digit():
    # read with the 6-digit layout, 1234567 has a wrong beneficiary digit (the
    # DV of 123456 is 0, not 7): the 7-digit layout is tried before any error
    assert b.mod11_zero("123456") == "0"
    assert b.parse_free_field("104", "1234567000100040000123450")["beneficiary_code"] == ("1234567")


# ---------------------------------------------------------------------------
# Itaú, carteiras with "seu número"
# ---------------------------------------------------------------------------

ITAU_SPEC = {"branch": "0810", "account": "53678"}  # itau_spec.rb


@pytest.mark.parametrize(
    "your_number, client_code, free_field, barcode, line",
    [
        (  # itau_spec.rb "Gerar boleto", carteira 196, convenio 12345, seu_numero 1234567
            "1234567",
            "12345",
            "1960025828112345671234550",
            "34191252500000135001960025828112345671234550",
            "34191.96005 25828.112349 56712.345505 1 25250000013500",
        ),
        (  # same, seu_numero 123456
            "123456",
            "12345",
            "1960025828101234561234550",
            "34192252500000135001960025828101234561234550",
            "34191.96005 25828.101235 45612.345509 2 25250000013500",
        ),
        (  # same, convenio 1234
            "123456",
            "1234",
            "1960025828101234560123440",
            "34192252500000135001960025828101234560123440",
            "34191.96005 25828.101235 45601.234409 2 25250000013500",
        ),
    ],
)
def test_itau_your_number_published(your_number, client_code, free_field, barcode, line):
    boleto = b.make_boleto(
        "341",
        date(2004, 9, 5),
        D("135.00"),
        portfolio="196",
        our_number="258281",
        your_number=your_number,
        client_code=client_code,
        **ITAU_SPEC,
    )
    assert boleto.free_field == free_field
    assert boleto.barcode == barcode
    assert boleto.typeable_line == line
    assert boleto.layout == "your_number"
    # our-number DAC by hand: mod 10 of agência+conta+carteira+NN
    # 0810 53678 196 00258281, weights 2,1 from the right, digit sums 77 -> 3
    assert boleto.our_number == "196/00258281-3"
    parsed = b.parse_boleto(barcode, today=date(2004, 9, 1))
    assert parsed.layout == "your_number"
    assert parsed.fields["your_number"] == your_number.zfill(7)
    assert parsed.fields["client_code"] == client_code.zfill(5)
    # agência and conta are not in the barcode: the printed DAC cannot be read
    assert parsed.our_number is None and "our_number_digit" not in parsed.fields


def test_itau_your_number_wrong_digit_is_a_check_digit_error():
    # the free field follows the seu-número layout but its DAC is 4, not 5
    code = b.barcode("341", date(2004, 9, 5), D("135.00"), "1960025828112345671234540")
    with pytest.raises(b.BoletoError) as exc:
        b.parse_boleto(code, today=date(2004, 9, 1))
    assert exc.value.field == "free_field_digit"


def test_itau_usual_portfolio_ignores_your_number_inputs():
    with_extra = b.make_boleto(
        "341",
        date(2026, 3, 10),
        D("1234.56"),
        portfolio="109",
        our_number="1234",
        your_number="1",
        client_code="1",
        **ITAU_SPEC,
    )
    assert with_extra.typeable_line == "34191.09008 00123.450819 05367.890000 4 13810000123456"
    assert with_extra.layout == ""


# ---------------------------------------------------------------------------
# Round trips of every variant
# ---------------------------------------------------------------------------

VARIANT_INPUTS = {
    "agreement4": ("001", {"agreement": st.integers(1000, 9999), "sequence": 7}),
    "agreement6": ("001", {"agreement": st.integers(100000, 999999), "sequence": 5}),
    "beneficiary7": ("104", {"beneficiary_code": st.integers(1100000, 9999999)}),
}


@given(
    variant=st.sampled_from(sorted(VARIANT_INPUTS)),
    data=st.data(),
    amount=st.integers(0, 9999999999),
    days=st.integers(0, 5000),
)
def test_variants_round_trip(variant, data, amount, days):
    bank, spec = VARIANT_INPUTS[variant]
    fields = {}
    for name, strategy in spec.items():
        if isinstance(strategy, int):
            fields[name] = str(data.draw(st.integers(1, 10**strategy - 1)))
        else:
            fields[name] = str(data.draw(strategy))
    if bank == "001":
        fields.update(BB_SPEC)
    else:
        fields["our_number"] = f"14{data.draw(st.integers(0, 10**15 - 1)):015d}"
    due = date(2026, 1, 1).fromordinal(date(2026, 1, 1).toordinal() + days)
    boleto = b.make_boleto(bank, due, D(amount) / 100, **fields)
    assert boleto.layout == variant
    parsed = b.parse_boleto(boleto.typeable_line, today=due, variant=variant)
    assert parsed == boleto


@given(
    portfolio=st.sampled_from(b._ITAU_SEU_NUMERO),
    our_number=st.integers(0, 10**8 - 1),
    your_number=st.integers(0, 10**7 - 1),
    client_code=st.integers(0, 10**5 - 1),
)
def test_itau_your_number_round_trip(portfolio, our_number, your_number, client_code):
    fields = {
        "portfolio": portfolio,
        "our_number": str(our_number),
        "your_number": str(your_number),
        "client_code": str(client_code),
    }
    boleto = b.make_boleto("341", date(2026, 3, 10), D("10.00"), **fields, **ITAU_SPEC)
    parsed = b.parse_boleto(boleto.barcode, today=date(2026, 3, 1))
    assert parsed.layout == "your_number"
    for name, value in fields.items():
        assert parsed.fields[name] == value.zfill(len(parsed.fields[name]))
