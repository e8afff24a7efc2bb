"""Masking of personal data in free text written to the server log.

Log lines at INFO level and above must not carry a CPF/CNPJ, an email address
or a card number: error messages logged as they are (an exception's text, a
provider's refusal) go through ``mask_personal_data`` first. No Odoo import.
"""

import re

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# a card number (13 to 19 digits, maybe in groups of 4) or its BIN with the last digits
_CARD = re.compile(r"(?<![\d.])(?:\d[ -]?){12,18}\d(?![\d])|(?<!\d)\d{6}[*xX•.]{2,9}\d{4}(?!\d)")
# CPF (000.000.000-00) and CNPJ (00.000.000/0000-00), punctuated or not; the
# alphanumeric CNPJ (12.ABC.345/01DE-35, IN RFB 2.229/2024) with its mask in
# any case, or compact in capitals with at least one letter (12ABC34501DE35)
_CPF = re.compile(r"(?<![\d.])\d{3}\.?\d{3}\.?\d{3}-?\d{2}(?![\d])")
_CNPJ = re.compile(
    r"(?<![\d.])\d{2}\.?\d{3}\.?\d{3}/?\d{4}-?\d{2}(?![\d])"
    r"|(?<![\w.])[0-9A-Za-z]{2}\.[0-9A-Za-z]{3}\.[0-9A-Za-z]{3}/[0-9A-Za-z]{4}-\d{2}(?!\w)"
    r"|(?<!\w)(?=[0-9]*[A-Z])[0-9A-Z]{12}\d{2}(?!\w)"
)


def mask_personal_data(text):
    """``text`` with email addresses, card numbers and CPF/CNPJ numbers masked."""
    text = _EMAIL.sub("<email>", str(text))
    text = _CNPJ.sub("<cnpj>", text)
    text = _CPF.sub("<cpf>", text)
    return _CARD.sub("<card>", text)
