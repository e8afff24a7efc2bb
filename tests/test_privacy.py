"""Masking of personal data in log text (rbm_recurring/engine/privacy.py)."""

import pytest

from rbm_recurring_engine.privacy import mask_personal_data


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("Invalid address fulano.tal+x@example.com.br", "Invalid address <email>"),
        ("CPF 390.533.447-05 refused", "CPF <cpf> refused"),
        ("CPF 39053344705 refused", "CPF <cpf> refused"),
        ("CNPJ 12.345.678/0001-95 refused", "CNPJ <cnpj> refused"),
        ("CNPJ 12345678000195 refused", "CNPJ <cnpj> refused"),
        # the alphanumeric CNPJ (IN RFB 2.229/2024), masked, compact, lower case
        ("CNPJ 12.ABC.345/01DE-35 refused", "CNPJ <cnpj> refused"),
        ("CNPJ 12ABC34501DE35 refused", "CNPJ <cnpj> refused"),
        ("payer 12.abc.345/01de-35: invalid", "payer <cnpj>: invalid"),
        ("card 4111 1111 1111 1111 declined", "card <card> declined"),
        ("card 4111111111111111 declined", "card <card> declined"),
        ("card 411111******1111 declined", "card <card> declined"),
        # what is not personal stays readable
        ("Invoice INV/2026/00042 of 1.234,56 due 2026-03-02", None),
        ("Contract SUB-0042: HTTP 500 after 3 tries", None),
        ("nosso numero 0001234", None),
        ("txid abcdefghijkl12 pending", None),
        ("file CNAB240ITAU2026 imported", None),
    ],
)
def test_mask_personal_data(text, masked):
    assert mask_personal_data(text) == (masked or text)
