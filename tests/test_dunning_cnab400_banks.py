"""CNAB 400 remittance (remessa) layouts of the banks besides Bradesco:
``rbm_dunning/engine/cnab_layouts.py`` (plain Python, no Odoo).

Public data: the remittance files published with kivanio/brcobranca in
spec/fixtures/remessa (Itaú at commit 4ec9a3f6, Banco do Brasil at commit
15f63044), read with our layouts and written back byte for byte, which checks
every field position; then titles written with ``cnab400_remittance`` are
parsed back to the same values (round trip) for every bank with a CNAB 400
remittance layout.
"""

from datetime import date
from decimal import Decimal

import pytest

from rbm_dunning_engine import cnab, cnab_layouts

D = Decimal


def _file(lines):
    return "\r\n".join(lines) + "\r\n"


def _join(*chunks):
    line = "".join(chunks)
    assert len(line) == 400, len(line)
    return line


# spec/fixtures/remessa/remessa-itau-cnab400.rem (its record 2, the optional
# fine record, left out: the trailer renumbered 000003)
ITAU_400 = (
    _join(
        "01REMESSA01COBRANCA       123400123451        SOCIEDADE BRASILEIRA DE ZOOLOG341B",
        "ANCO ITAU SA  140715".ljust(80),
        " " * 80,
        " " * 80,
        " " * 74 + "000001",
    ),
    _join(
        "10100012345678910123400123451    00006969                     00000123000000000000",
        "0123                     I01000000000014071500000000199903410000001N14071500000",
        "0000000000000000000000000000000000000000000000000000000000100012345678901PABLO D",
        "IEGO JOSE FRANCISCO DE           RUA RIO GRANDE DO SUL SAO PAULO MINAS CASAO JOS",
        "E DOS12345678SANTA RITA DE CSP                                  00000003 000002",
    ),
    _join("9", " " * 393, "000003"),
)

# spec/fixtures/remessa/remessa-banco-brasil-cnab400.rem
BB_400 = (
    _join(
        "01REMESSA01COBRANCA       12343000012343000000SOCIEDADE BRASILEIRA DE ZOOLOG001B",
        ("ANCODOBRASIL  1407150000001" + " " * 22 + "7654321").ljust(80),
        " " * 80,
        " " * 80,
        " " * 74 + "000001",
    ),
    _join(
        "70100012345678910123430000123431234567                         12345670000000123",
        "0000       123000000004DSC1201000000012314071500000000199900010000 01N1407150000",
        "00000000000000000000000000000000000000000000000000000000000100012345678901PABLO ",
        "DIEGO JOSE FRANCISCO DE PAULA J   RUA RIO GRANDE DO SUL SAO PAULO MINAS CASAO JO",
        "SE DOS12345678SANTA RITA DE CSP                                           000002",
    ),
    _join("9", " " * 393, "000003"),
)

# spec/fixtures/remessa/remessa-santander-cnab400.rem (commit 239a6fa6)
SANTANDER_400 = (
    _join(
        "01REMESSA01COBRANCA       17777751042700080112SOCIEDADE BRASILEIRA DE ZOOLOG033S",
        "ANTANDER      1407150000000000000000".ljust(80),
        " " * 80,
        " " * 80,
        " " * 71 + "058000001",
    ),
    _join(
        "10100012345678910177777510427000801126969                     00000123000000 402",
        "00000000000000000    000000101000000000014071500000000199900330000001N1407150600",
        "00000000008000000000000000000000000000000000000000000000000100012345678901PABLO ",
        "DIEGO JOSE FRANCISCO DE PAULA JUANRUA RIO GRANDE DO SUL SAO PAULO MINAS CASAO JO",
        "SE DOS12345678SANTA RITA DE CSP                               I78      06 000002",
    ),
    _join("9000003000000001999", "0" * 375, "000003"),
)

# spec/fixtures/remessa/remessa-sicoob-cnab400.rem (commit bceaccc4)
SICOOB_400 = (
    _join(
        "01REMESSA01COBRANCA       43273123456789      SOCIEDADE BRASILEIRA DE ZOOLOG756B",
        "ANCOOBCED     1407150000001".ljust(80),
        " " * 80,
        " " * 80,
        " " * 74 + "000001",
    ),
    _join(
        "1010001234567891043273123456781000000                         0000000001230100  ",
        "     0000000000000000    201010000000000140715000000001999075643273010140715000",
        "000000000000020000000000000000000000000000000000000000000000100012345678901PABLO D",
        "IEGO JOSE FRANCISCO DE PAULA JUANRUA RIO GRANDE DO SUL SAO PAULO MINASSAO JOSE DO",
        "S QU12345678SANTA RITA DE CSP" + " " * 40 + "00 000002",
    ),
    _join("9", "0" * 393, "000003"),
)

PUBLIC_400 = {"341": ITAU_400, "001": BB_400, "033": SANTANDER_400, "756": SICOOB_400}


@pytest.mark.parametrize("bank", sorted(PUBLIC_400))
def test_public_400_remittance_reads_and_writes_back(bank):
    lines = PUBLIC_400[bank]
    parsed = cnab.parse_cnab400(_file(lines))
    assert parsed.bank == bank
    assert [r.kind for r in parsed.records] == ["header", "detail", "trailer"]
    layout = cnab.cnab400_layout(bank, "remittance")
    for record, line in zip(parsed.records, lines, strict=True):
        assert layout[record.kind].to_line(record.values) == line, record.kind


def test_public_itau_400_values():
    # brcobranca spec inputs: agência 1234, conta 12345-1, carteira 123,
    # nosso número 123, valor 199.9, documento 6969, pagador 12345678901
    parsed = cnab.parse_cnab400(_file(ITAU_400))
    header, detail = parsed.records[0], parsed.of_kind("detail")[0]
    assert (header["branch"], header["account"], header["account_digit"]) == (
        "1234",
        "12345",
        "1",
    )
    assert header["generated_on"] == date(2015, 7, 14)
    assert (detail["our_number"], detail["portfolio"], detail["portfolio_code"]) == (
        "00000123",
        "123",
        "I",
    )
    assert (detail["movement"], detail["due_date"], detail["amount"]) == (
        "01",
        date(2015, 7, 14),
        D("199.90"),
    )
    assert detail["company_use"] == "6969"
    assert (detail["payer_document"], detail["payer_postal_code"]) == (
        "00012345678901",
        "12345678",
    )
    assert detail["payer_name"] == "PABLO DIEGO JOSE FRANCISCO DE"
    assert (detail["payer_city"], detail["payer_state"]) == ("SANTA RITA DE C", "SP")


def test_public_bb_400_values():
    # brcobranca spec inputs: convênio 1234567, carteira 12, variação 123
    parsed = cnab.parse_cnab400(_file(BB_400))
    header, detail = parsed.records[0], parsed.of_kind("detail")[0]
    assert (header["branch"], header["branch_digit"]) == ("1234", "3")
    assert (header["account"], header["account_digit"]) == ("00001234", "3")
    assert (header["file_sequence"], header["leader_agreement"]) == (1, "7654321")
    assert detail["agreement"] == "1234567"
    assert detail["our_number"] == "12345670000000123"  # convênio + 10-digit sequence
    assert (detail["portfolio"], detail["portfolio_variation"]) == ("12", "123")
    assert (detail["charge_type"], detail["movement"]) == ("04DSC", "01")
    assert (detail["due_date"], detail["amount"]) == (date(2015, 7, 14), D("199.90"))
    assert detail["payer_name"] == "PABLO DIEGO JOSE FRANCISCO DE PAULA J"


# ---------------------------------------------------------------------------
# Round trip: titles -> cnab400_remittance -> parse_cnab400 -> same values
# ---------------------------------------------------------------------------

BENEFICIARIES = {
    "756": {"branch": "4327", "branch_digit": "3", "account": "12345678", "agreement": "12345678"},
    "033": {"branch": "4042", "account": "61900", "agreement": "17777751042700080112"},
    "001": {"branch": "1234", "branch_digit": "3", "account": "12343", "agreement": "1234567"},
    "237": {"branch": "1172", "account": "0403005", "agreement": "4540691", "portfolio": "09"},
    "341": {"branch": "0810", "account": "53678", "portfolio": "109"},
}
OUR_NUMBERS = {  # (our number, digit) as collection.title_ids makes them
    "756": ("000000000427", ""),
    "033": ("00000420", ""),
    "001": ("12345670000000042", ""),
    "237": ("00000000042", "P"),
    "341": ("00000042", ""),
}
PAYER = cnab.Payer(
    name="Maria José da Conceição",
    document="390.533.447-05",
    address="Rua das Acácias, 100",
    district="Jardim Paulista",
    postal_code="01310-100",
    city="São Paulo",
    state="SP",
)


def _titles(bank):
    number, digit = OUR_NUMBERS[bank]
    return [
        cnab.Title(
            our_number=number,
            our_number_digit=digit,
            due_date=date(2026, 3, 10),
            amount=D("1234.56"),
            document_number="NF-2026-01",
            payer=PAYER,
            issue_date=date(2026, 2, 5),
            interest=D("0.41"),
            discount_date=date(2026, 3, 5),
            discount=D("12.34"),
            rebate=D("1.00"),
            company_use="RBM42",
        ),
        cnab.Title(
            our_number=number,
            our_number_digit=digit,
            due_date=date(2026, 4, 10),
            amount=D("99.90"),
            movement=cnab_layouts.MOVEMENTS["write_off"],
        ),
        cnab.Title(
            our_number=number,
            our_number_digit=digit,
            due_date=date(2026, 5, 15),
            amount=D("10.00"),
            movement=cnab_layouts.MOVEMENTS["change_due_date"],
        ),
    ]


def test_public_santander_400_values():
    # brcobranca spec inputs: código de transmissão 17777751042700080112,
    # multa 2%, mora 8.00 a day, protest after 6 days
    parsed = cnab.parse_cnab400(_file(SANTANDER_400))
    header, detail, trailer = parsed.records
    assert (header["agreement"], header["layout_version"]) == ("17777751042700080112", "058")
    assert (detail["agreement"], detail["our_number"]) == ("17777751042700080112", "00000123")
    assert (detail["fine_code"], detail["fine"]) == ("4", D("2.00"))
    assert (detail["movement"], detail["amount"]) == ("01", D("199.90"))
    assert (detail["instruction1"], detail["interest"]) == ("06", D("8.00"))
    assert detail["protest_days"] == "06"
    assert (trailer["record_count"], trailer["title_total"]) == (3, D("199.90"))


def test_public_sicoob_400_values():
    parsed = cnab.parse_cnab400(_file(SICOOB_400))
    header, detail, _trailer = parsed.records
    assert (header["branch"], header["branch_digit"], header["agreement"]) == (
        "4327",
        "3",
        "12345678",
    )
    assert header["file_sequence"] == 1
    assert (detail["branch"], detail["account"], detail["account_digit"]) == (
        "4327",
        "12345678",
        "1",
    )
    assert (detail["our_number"], detail["installment"], detail["portfolio"]) == (
        "000000000123",
        "01",
        "01",
    )
    assert (detail["movement"], detail["amount"], detail["acceptance"]) == ("01", D("199.90"), "0")
    assert detail["payer_district"] == "SAO JOSE DOS QU"


def test_santander_400_fine_code():
    beneficiary = cnab.Beneficiary(
        bank="033", name="X", document="16727230000197", branch="1", **{"agreement": "1"}
    )
    title = cnab.Title(
        our_number="1", due_date=date(2026, 3, 10), amount=D("10"), fine_code="2", fine=D("2")
    )
    (detail,) = cnab.parse_cnab400(
        cnab.cnab400_remittance(beneficiary, [title], 1, date(2026, 3, 1))
    ).of_kind("detail")
    assert (detail["fine_code"], detail["fine"]) == ("4", D("2.00"))


def test_every_bank_with_a_400_return_has_its_remittance():
    remittance = {bank for bank, direction in cnab_layouts.CNAB400 if direction == "remittance"}
    returns = {bank for bank, direction in cnab_layouts.CNAB400 if direction == "return"}
    assert returns <= remittance
    assert remittance == set(BENEFICIARIES)


@pytest.mark.parametrize("bank", sorted(BENEFICIARIES))
def test_400_remittance_round_trip(bank):
    beneficiary = cnab.Beneficiary(
        bank=bank,
        name="Empresa Exemplo de Cobrança Recorrente Ltda",
        document="16.727.230/0001-97",
        account_digit="1",
        **BENEFICIARIES[bank],
    )
    titles = _titles(bank)
    content = cnab.cnab400_remittance(beneficiary, titles, 42, date(2026, 2, 5))
    lines = content.split("\r\n")
    assert lines[-1] == "" and all(len(line) == 400 for line in lines[:-1])
    parsed = cnab.parse_cnab400(content)
    assert parsed.bank == bank
    assert [r.kind for r in parsed.records] == ["header", "detail", "detail", "detail", "trailer"]
    header = parsed.records[0]
    assert (header["file_type"], header["generated_on"]) == ("1", date(2026, 2, 5))
    assert header["company_name"] == "EMPRESA EXEMPLO DE COBRANCA RE"
    if "file_sequence" in header.values:
        assert header["file_sequence"] == 42
    details = parsed.of_kind("detail")
    for detail, title in zip(details, titles, strict=True):
        assert detail["movement"] == title.movement
        assert detail["our_number"] == title.our_number
        assert detail.get("our_number_digit", "") == title.our_number_digit
        assert (detail["due_date"], detail["amount"]) == (title.due_date, title.amount)
    first = details[0]
    assert first["document_number"] == "NF-2026-01"
    assert first["company_use"] == "RBM42"
    assert first["issue_date"] == date(2026, 2, 5)
    if "interest" in first.values:  # (Sicoob takes a monthly rate instead)
        assert first["interest"] == D("0.41")
    assert (first["discount_date"], first["discount"], first["rebate"]) == (
        date(2026, 3, 5),
        D("12.34"),
        D("1.00"),
    )
    assert (first["payer_document_type"], first["payer_document"]) == ("01", "00039053344705")
    assert first["payer_name"].startswith("MARIA JOSE DA CONCEICAO")
    assert first["payer_postal_code"] == "01310100"
    if "payer_city" in first.values:
        assert (first["payer_city"], first["payer_state"]) == ("SAO PAULO", "SP")
    for name in ("branch", "account"):
        if name in first.values:
            assert first[name].lstrip("0") == BENEFICIARIES[bank][name].lstrip("0")
    if "company_document" in first.values:
        assert first["company_document"] == "16727230000197"
    assert parsed.records[-1]["sequence"] == 5


# the species codes as each bank's manual prints them (the table the engine
# must follow, read from the manuals, not from the engine)
SPECIES_FROM_MANUALS = [
    # FEBRABAN "Layout Padrão Febraban 240 posições" V10.6, code C015:
    # 02 DM duplicata mercantil, 04 DS duplicata de serviço
    ("341", "cnab240", "DM", "02"),
    ("001", "cnab240", "DS", "04"),
    # Banco do Brasil "Layout de Arquivo Remessa CNAB400", April 2012, note 07:
    # 01 duplicata mercantil, 12 duplicata de serviço
    ("001", "cnab400", "DM", "01"),
    ("001", "cnab400", "DS", "12"),
    # Santander "CNAB 400 (padrão Santander) com registro" H7800 v2.15, March
    # 2017, 148-149: 01 duplicata, 06 duplicata de serviço
    ("033", "cnab400", "DM", "01"),
    ("033", "cnab400", "DS", "06"),
    # Bradesco "Manual de Procedimentos" nº 4008.524.0121 version 11, 148-149:
    # 01 duplicata, 12 duplicata de serviço
    ("237", "cnab400", "DM", "01"),
    ("237", "cnab400", "DS", "12"),
    # Itaú "Cobrança Bancária - Intercâmbio Eletrônico de Arquivos", July 2021,
    # note 10: 01 duplicata mercantil, 08 duplicata de serviço
    ("341", "cnab400", "DM", "01"),
    ("341", "cnab400", "DS", "08"),
    # Sicoob "Instruções para montagem e validação de boletos de cobrança",
    # 24 February 2017, Remessa CNAB400 field 31: 01 duplicata mercantil,
    # 12 duplicata de serviço
    ("756", "cnab400", "DM", "01"),
    ("756", "cnab400", "DS", "12"),
]


@pytest.mark.parametrize(("bank", "layout", "species", "code"), SPECIES_FROM_MANUALS)
def test_document_species_codes(bank, layout, species, code):
    from rbm_dunning_engine import collection

    assert collection.document_kind_code(bank, layout, species) == code


@pytest.mark.parametrize(
    ("bank", "species", "code"),
    [(b, s, c) for b, layout, s, c in SPECIES_FROM_MANUALS if layout == "cnab400"],
)
def test_400_remittance_carries_the_species_code(bank, species, code):
    """The code lands in positions 148-149 of the detail record, where every
    one of these manuals puts the espécie (read from the raw line)."""
    from rbm_dunning_engine import collection

    beneficiary = cnab.Beneficiary(
        bank=bank,
        name="Empresa Exemplo",
        document="16.727.230/0001-97",
        account_digit="1",
        **BENEFICIARIES[bank],
    )
    number, digit = OUR_NUMBERS[bank]
    title = cnab.Title(
        our_number=number,
        our_number_digit=digit,
        due_date=date(2026, 3, 10),
        amount=D("150.00"),
        document_number="NF-1",
        payer=PAYER,
        issue_date=date(2026, 2, 5),
        document_kind=collection.document_kind_code(bank, "cnab400", species),
    )
    lines = cnab.cnab400_remittance(beneficiary, [title], 1, date(2026, 2, 5)).split("\r\n")
    detail = lines[1]
    assert detail[147:149] == code


def test_document_species_refused():
    from rbm_dunning_engine import collection

    with pytest.raises(ValueError, match="unknown document species 'NP'"):
        collection.document_kind_code("341", "cnab240", "NP")
    with pytest.raises(ValueError, match="bank 104"):
        collection.document_kind_code("104", "cnab400", "DS")
