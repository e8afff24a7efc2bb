"""Tests for ``rbm_dunning/engine/checkdigits.py`` (plain Python, no Odoo).

Public vectors: tests/vectors/br_vectors.json (``cpf_cnpj``: python-stdnum
2.2 doctests and the RFB alphanumeric-CNPJ example), and the check-digit specs
of kivanio/brcobranca (commit 325e0eae): spec/brcobranca/boleto/*_spec.rb.
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.br import cnpj as stdnum_cnpj
from stdnum.br import cpf as stdnum_cpf

from rbm_dunning_engine import checkdigits as cd

digits = st.text(alphabet="0123456789", min_size=1, max_size=44)

# ---------------------------------------------------------------------------
# mod 10 / mod 11
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number, dv",
    [
        # Itaú agência + conta DAC (brcobranca itau_spec.rb)
        ("060715255", "0"),
        ("154785547", "6"),
        ("154710207", "7"),
        ("081153678", "8"),
        # typeable-line fields of the Banco do Brasil vector (br_vectors.json)
        ("001900000", "9"),
        ("0147416600", "4"),
        ("0000032817", "9"),
        ("0", "0"),
    ],
)
def test_mod10_known_values(number, dv):
    assert cd.mod10(number) == dv


BRADESCO = {"mapping": {10: "P", 11: 0}}


@pytest.mark.parametrize(
    "branch, dv",
    [
        ("0255", "0"),
        ("0943", "1"),
        ("1467", "2"),
        ("0794", "3"),
        ("0155", "4"),
        ("0650", "5"),
        ("0199", "6"),
        ("1425", "7"),
        ("2839", "8"),
        ("2332", "9"),
        ("0121", "P"),
    ],
)
def test_mod11_bradesco_branch_digit(branch, dv):
    # brcobranca bradesco_spec.rb: agência DV, weights 2..5, 10 -> P, 11 -> 0
    assert cd.mod11(branch, weights=(2, 3, 4, 5), **BRADESCO) == dv


@pytest.mark.parametrize(
    "account, dv",
    [
        ("0325620", "0"),
        ("0284025", "1"),
        ("0238069", "2"),
        ("0135323", "3"),
        ("0010667", "4"),
        ("0420571", "5"),
        ("0510701", "6"),
        ("0420536", "7"),
        ("0012500", "8"),
        ("0010673", "9"),
        ("0019669", "P"),
        ("0301357", "P"),
    ],
)
def test_mod11_bradesco_account_digit(account, dv):
    # brcobranca bradesco_spec.rb: conta DV, weights 2..7
    assert cd.mod11(account, weights=cd.WEIGHTS_2_7, **BRADESCO) == dv


@pytest.mark.parametrize("our_number, dv", list(zip(range(1, 14), "7419630853085", strict=True)))
def test_mod11_sicoob_weights_from_the_left(our_number, dv):
    # brcobranca sicoob_spec.rb: cooperativa 4327, cliente 229385 (10 digits)
    number = "4327" + "0000229385" + f"{our_number:07d}"
    assert cd.mod11(number, weights=(3, 1, 9, 7), from_right=False, mapping={10: 0, 11: 0}) == dv


def test_mod11_without_mapping_rejects_two_digit_results():
    # 11 - r is 10 when r == 1: not a digit, so a mapping is required
    number = next(
        n
        for n in (f"{i:04d}" for i in range(10000))
        if cd.weighted_sum(n, cd.WEIGHTS_2_9) % 11 == 1
    )
    with pytest.raises(ValueError, match="no check-digit mapping"):
        cd.mod11(number)
    assert cd.mod11(number, mapping={10: 0}) == "0"


def test_mod11_plain_remainder():
    assert cd.mod11("261533", complement=False, mapping={10: "X"}) == str(
        cd.weighted_sum("261533", cd.WEIGHTS_2_9) % 11
    )


@pytest.mark.parametrize("bad", ["", "12a4", "12 34", "１２", None, 1234])
def test_check_digits_reject_non_digits(bad):
    with pytest.raises(ValueError, match="digits"):
        cd.mod10(bad)
    with pytest.raises(ValueError, match="digits"):
        cd.mod11(bad, mapping={10: 0, 11: 0})


def _change_one_digit(number, data):
    position = data.draw(st.integers(0, len(number) - 1), label="position")
    new = data.draw(st.sampled_from([d for d in "0123456789" if d != number[position]]))
    return number[:position] + new + number[position + 1 :]


@given(digits, st.data())
def test_mod10_detects_any_single_digit_change(number, data):
    full = number + cd.mod10(number)
    changed = _change_one_digit(full, data)
    assert cd.mod10(changed[:-1]) != changed[-1]


@given(digits, st.sampled_from([cd.WEIGHTS_2_9, cd.WEIGHTS_2_7, (3, 1, 9, 7)]), st.data())
def test_mod11_with_an_injective_mapping_detects_any_single_digit_change(number, weights, data):
    # Bradesco's mapping keeps 11 results apart (1..9, P, 0): nothing collapses
    full = number + cd.mod11(number, weights=weights, **BRADESCO)
    changed = _change_one_digit(full, data)
    assert cd.mod11(changed[:-1], weights=weights, **BRADESCO) != changed[-1]


@given(digits, st.data())
def test_mod11_general_digit_misses_a_change_only_inside_the_collapsed_class(number, data):
    # The boleto general DV maps 10 and 11 to 1, like the raw result 1: a
    # single-digit change goes unnoticed only when it moves the remainder
    # between 0, 1 and 10, which all give the check digit 1.
    general = {"mapping": {10: 1, 11: 1}}
    full = number + cd.mod11(number, **general)
    changed = _change_one_digit(full, data)
    if cd.mod11(changed[:-1], **general) == changed[-1]:
        before = cd.weighted_sum(number, cd.WEIGHTS_2_9) % 11
        after = cd.weighted_sum(changed[:-1], cd.WEIGHTS_2_9) % 11
        assert {before, after} <= {0, 1, 10} and changed[-1] == "1"


# ---------------------------------------------------------------------------
# CPF / CNPJ
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["390.533.447-05", "39053344705", " 390 533 447 05 "])
def test_valid_cpf_vector(value):
    assert cd.is_valid_cpf(value)
    assert cd.validate_cpf(value) == "39053344705"
    assert cd.format_cpf(value) == "390.533.447-05"


@pytest.mark.parametrize("value", ["16.727.230/0001-97", "16727230000197"])
def test_valid_cnpj_vector(value):
    assert cd.is_valid_cnpj(value)
    assert cd.format_cnpj(value) == "16.727.230/0001-97"


@pytest.mark.parametrize("value", ["12.ABC.345/01DE-35", "12ABC34501DE35", "12.abc.345/01de-35"])
def test_alphanumeric_cnpj_vector(value):
    # RFB example of the alphanumeric CNPJ (July 2026)
    assert cd.validate_cnpj(value) == "12ABC34501DE35"
    assert cd.format_cnpj(value) == "12.ABC.345/01DE-35"
    assert cd.cnpj_check_digits("12ABC34501DE") == "35"


@pytest.mark.parametrize(
    "value, message",
    [
        ("231.002.999-00", "wrong check digits"),
        ("390.533.447-06", "wrong check digits"),
        ("111.111.111-11", "repeated digit"),
        ("390.533.447", "11 digits, got 9"),
        ("390.533.447-0A", "only digits"),
    ],
)
def test_invalid_cpf(value, message):
    assert not cd.is_valid_cpf(value)
    with pytest.raises(ValueError, match=message):
        cd.validate_cpf(value)


@pytest.mark.parametrize(
    "value, message",
    [
        ("16.727.230.0001-98", "wrong check digits"),  # br_vectors.json invalid
        ("12.ABC.345/01DE-36", "wrong check digits"),
        ("12.ABC.345/01DE-3X", "2 check digits"),
        ("00.000.000/0000-00", "repeated digit"),
        ("16.727.230/0001", "14 characters, got 12"),
        ("16.727.230/0001-9%", "followed by 2 check digits"),
    ],
)
def test_invalid_cnpj(value, message):
    assert not cd.is_valid_cnpj(value)
    with pytest.raises(ValueError, match=message):
        cd.validate_cnpj(value)


def test_validate_document_tells_cpf_from_cnpj():
    assert cd.validate_document("390.533.447-05") == ("cpf", "39053344705")
    assert cd.validate_document("12.ABC.345/01DE-35") == ("cnpj", "12ABC34501DE35")
    assert cd.format_document("16727230000197") == "16.727.230/0001-97"
    with pytest.raises(ValueError, match="neither a CPF"):
        cd.validate_document("1234")
    with pytest.raises(ValueError, match="must be a string"):
        cd.validate_document(39053344705)


@given(st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_cpf_agrees_with_stdnum(number):
    # python-stdnum accepts CPFs of one repeated digit, which are never issued
    if len(set(number)) > 1:
        assert cd.is_valid_cpf(number) == stdnum_cpf.is_valid(number)


@given(st.text(alphabet="0123456789", min_size=12, max_size=12))
def test_numeric_cnpj_agrees_with_stdnum(base):
    number = base + cd.cnpj_check_digits(base)
    if len(set(number)) > 1:
        assert cd.is_valid_cnpj(number) and stdnum_cnpj.is_valid(number)
        wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
        assert not cd.is_valid_cnpj(wrong) and not stdnum_cnpj.is_valid(wrong)


@given(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=12, max_size=12))
def test_alphanumeric_cnpj_round_trip(base):
    number = base + cd.cnpj_check_digits(base)
    if len(set(number)) > 1:
        formatted = cd.format_cnpj(number)
        assert cd.validate_cnpj(formatted.lower()) == number
