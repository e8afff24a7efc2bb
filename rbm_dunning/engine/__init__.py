"""Plain-Python collection codecs (no Odoo import).

- ``checkdigits``: modulo 10 / modulo 11 check digits, CPF and CNPJ (including the
  alphanumeric CNPJ of July 2026).
- ``boleto``: FEBRABAN due-date factor, barcode and typeable line (linha digitável),
  per-bank free field (campo livre) and our number (nosso número).
- ``pix``: Pix BR Code (EMV merchant-presented QR) builder and parser.
- ``fixedwidth``: field specs and a fixed-width record writer/reader (``CnabError``).
- ``cnab`` + ``cnab_layouts``: CNAB 240 and CNAB 400 collection remittance (remessa)
  and return (retorno) files; per-bank layouts as data.
- ``cnab150``: FEBRABAN CNAB 150 direct debit (débito automático).
- ``card_retry``: retry schedule of failed card charges.
"""
