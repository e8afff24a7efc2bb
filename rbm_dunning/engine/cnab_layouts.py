"""CNAB 240 and CNAB 400 collection layouts, as data.

Positions are 1-based and inclusive, as in the bank manuals. The CNAB 240
records are FEBRABAN's; each bank in ``CNAB240_BANKS`` lists only the fields it
moves (``Record.derive`` drops the base fields they overlap). Sources: the
FEBRABAN layout, the project's notes on Brazil, and the remittance/return files
published with kivanio/brcobranca (spec/fixtures/remessa, spec/arquivos), which
the tests read and write back byte for byte.
"""

from dataclasses import dataclass, field

from .fixedwidth import (
    Record,
    alpha,
    amount,
    const,
    date_,
    doc,
    filler,
    int_,
    num,
    text,
    time_,
)

MOVEMENTS = {"entry": "01", "write_off": "02", "change_due_date": "06"}

# CNAB 400 fine codes that differ from FEBRABAN's (1 value, 2 percent)
FINE_CODES_400 = {"033": {"1": "4", "2": "4"}}  # Santander: 4 with fine

# CNAB 400 detail fields that ask for a protest after ``days`` days past due
# (each bank has its own instruction table; CNAB 240 has a protest code)
PROTEST_400 = {
    "001": {"instruction1": "06", "protest_days": "{days:02d}"},  # protestar em N dias
    "237": {"instruction1": "06", "instruction2": "{days:02d}"},  # protestar
    "341": {"instruction1": "09", "protest_days": "{days:02d}"},  # protestar
    "033": {"instruction1": "06", "protest_days": "{days:02d}"},  # protestar (392-393)
}

# kind, description (pt_BR, as in the bank manuals)
OCCURRENCES_240 = {
    "02": ("registered", "Entrada confirmada"),
    "03": ("rejected", "Entrada rejeitada"),
    "06": ("paid", "Liquidação"),
    "09": ("written_off", "Baixa"),
    "12": ("rebate", "Abatimento concedido"),
    "14": ("due_date_changed", "Vencimento alterado"),
    "17": ("paid", "Liquidação após baixa"),
    "28": ("fee", "Débito de tarifas/custas"),
}

OCCURRENCES_400 = {
    "02": ("registered", "Entrada confirmada"),
    "03": ("rejected", "Entrada rejeitada"),
    "06": ("paid", "Liquidação normal"),
    "09": ("written_off", "Baixa"),
    "10": ("written_off", "Baixa conforme instrução"),
    "12": ("rebate", "Abatimento concedido"),
    "14": ("due_date_changed", "Vencimento alterado"),
    "15": ("paid", "Liquidação em cartório"),
    "17": ("paid", "Liquidação após baixa"),
    "28": ("fee", "Débito de tarifas/custas"),
}

# ---------------------------------------------------------------------------
# CNAB 240 (FEBRABAN)
# ---------------------------------------------------------------------------

_BATCH_CONTROL = (num("bank", 1, 3), int_("batch", 4, 7))


def _detail(segment):
    return (
        *_BATCH_CONTROL,
        const("record_type", 8, 8, "3"),
        int_("sequence", 9, 13),
        const("segment", 14, 14, segment),
    )


_ACCOUNT_240 = (  # P, T: agência, conta and their check digits
    num("branch", 18, 22),
    alpha("branch_digit", 23, 23),
    num("account", 24, 35),
    alpha("account_digit", 36, 36),
    alpha("branch_account_digit", 37, 37),
)

CNAB240 = {
    record.name: record
    for record in (
        Record(
            "file_header",
            240,
            (
                num("bank", 1, 3),
                const("batch", 4, 7, "0000"),
                const("record_type", 8, 8, "0"),
                num("company_document_type", 18, 18),
                doc("company_document", 19, 32),
                alpha("agreement", 33, 52),
                num("branch", 53, 57),
                alpha("branch_digit", 58, 58),
                num("account", 59, 70),
                alpha("account_digit", 71, 71),
                alpha("branch_account_digit", 72, 72),
                text("company_name", 73, 102),
                text("bank_name", 103, 132),
                num("file_type", 143, 143),  # 1 remessa, 2 retorno
                date_("generated_on", 144, 151),
                time_("generated_at", 152, 157),
                int_("file_sequence", 158, 163),
                num("file_version", 164, 166),
                num("density", 167, 171),
                alpha("bank_reserved", 172, 191),
                alpha("company_reserved", 192, 211),
            ),
        ),
        Record(
            "batch_header",
            240,
            (
                *_BATCH_CONTROL,
                const("record_type", 8, 8, "1"),
                alpha("operation", 9, 9),  # R remessa, T retorno
                num("service_type", 10, 11, "01"),
                num("batch_version", 14, 16),
                num("company_document_type", 18, 18),
                doc("company_document", 19, 33),
                alpha("agreement", 34, 53),
                num("branch", 54, 58),
                alpha("branch_digit", 59, 59),
                num("account", 60, 71),
                alpha("account_digit", 72, 72),
                alpha("branch_account_digit", 73, 73),
                text("company_name", 74, 103),
                text("message1", 104, 143),
                text("message2", 144, 183),
                int_("remittance_number", 184, 191),
                date_("recorded_on", 192, 199),
                date_("credit_date", 200, 207),
            ),
        ),
        Record(
            "P",
            240,
            (
                *_detail("P"),
                num("movement", 16, 17),
                *_ACCOUNT_240,
                alpha("our_number", 38, 57),
                num("portfolio_code", 58, 58, "1"),  # 1 simples
                num("registration", 59, 59, "1"),  # 1 com cadastramento
                alpha("document_type", 60, 60, "1"),  # 1 tradicional
                num("issuer", 61, 61, "2"),  # 2 beneficiário emite
                alpha("distribution", 62, 62, "2"),  # 2 beneficiário distribui
                alpha("document_number", 63, 77),
                date_("due_date", 78, 85),
                amount("amount", 86, 100),
                num("collecting_branch", 101, 105),
                alpha("collecting_branch_digit", 106, 106),
                num("document_kind", 107, 108, "02"),  # 02 duplicata mercantil
                alpha("acceptance", 109, 109, "N"),
                date_("issue_date", 110, 117),
                num("interest_code", 118, 118, "3"),  # 3 isento
                date_("interest_date", 119, 126),
                amount("interest", 127, 141),
                num("discount_code", 142, 142),
                date_("discount_date", 143, 150),
                amount("discount", 151, 165),
                amount("iof", 166, 180),
                amount("rebate", 181, 195),
                text("company_use", 196, 220),
                num("protest_code", 221, 221, "3"),  # 3 não protestar
                num("protest_days", 222, 223),
                num("write_off_code", 224, 224, "2"),
                num("write_off_days", 225, 227),
                num("currency", 228, 229, "09"),
                num("contract", 230, 239),
            ),
        ),
        Record(
            "Q",
            240,
            (
                *_detail("Q"),
                num("movement", 16, 17),
                num("payer_document_type", 18, 18),  # 1 CPF, 2 CNPJ
                doc("payer_document", 19, 33),
                text("payer_name", 34, 73),
                text("payer_address", 74, 113),
                text("payer_district", 114, 128),
                num("payer_postal_code", 129, 136),
                text("payer_city", 137, 151),
                alpha("payer_state", 152, 153),
                num("guarantor_document_type", 154, 154),
                doc("guarantor_document", 155, 169),
                text("guarantor_name", 170, 209),
                num("correspondent_bank", 210, 212),
                alpha("correspondent_our_number", 213, 232),
            ),
        ),
        Record(
            "R",
            240,
            (
                *_detail("R"),
                num("movement", 16, 17),
                num("discount2_code", 18, 18),
                date_("discount2_date", 19, 26),
                amount("discount2", 27, 41),
                num("discount3_code", 42, 42),
                date_("discount3_date", 43, 50),
                amount("discount3", 51, 65),
                num("fine_code", 66, 66),  # 1 value, 2 percent
                date_("fine_date", 67, 74),
                amount("fine", 75, 89),
                text("payer_info", 90, 99),
                text("message3", 100, 139),
                text("message4", 140, 179),
                num("payer_occurrence_code", 200, 207),
                num("debit_bank", 208, 210),
                num("debit_branch", 211, 215),
                alpha("debit_branch_digit", 216, 216),
                num("debit_account", 217, 228),
                alpha("debit_account_digit", 229, 229),
                alpha("debit_branch_account_digit", 230, 230),
                num("debit_notice", 231, 231),
            ),
        ),
        Record(
            "T",
            240,
            (
                *_detail("T"),
                num("occurrence", 16, 17),
                *_ACCOUNT_240,
                alpha("our_number", 38, 57),
                num("portfolio_code", 58, 58),
                alpha("document_number", 59, 73),
                date_("due_date", 74, 81),
                amount("amount", 82, 96),
                num("collecting_bank", 97, 99),
                num("collecting_branch", 100, 104),
                alpha("collecting_branch_digit", 105, 105),
                alpha("company_use", 106, 130),
                num("currency", 131, 132),
                num("payer_document_type", 133, 133),
                doc("payer_document", 134, 148),
                text("payer_name", 149, 188),
                alpha("contract", 189, 198),
                amount("fee", 199, 213),
                alpha("rejection_reasons", 214, 223),
            ),
        ),
        Record(
            "U",
            240,
            (
                *_detail("U"),
                num("occurrence", 16, 17),
                amount("interest_fine", 18, 32),
                amount("discount", 33, 47),
                amount("rebate", 48, 62),
                amount("iof", 63, 77),
                amount("amount_paid", 78, 92),
                amount("net_amount", 93, 107),
                amount("other_expenses", 108, 122),
                amount("other_credits", 123, 137),
                date_("occurrence_date", 138, 145),
                date_("credit_date", 146, 153),
                alpha("payer_occurrence_code", 154, 157),
                date_("payer_occurrence_date", 158, 165),
                amount("payer_occurrence_amount", 166, 180),
                text("payer_occurrence_text", 181, 210),
                num("correspondent_bank", 211, 213),
                alpha("correspondent_our_number", 214, 233),
            ),
        ),
        Record(
            "batch_trailer",
            240,
            (
                *_BATCH_CONTROL,
                const("record_type", 8, 8, "5"),
                int_("record_count", 18, 23),
                int_("simple_count", 24, 29),
                amount("simple_total", 30, 46),
                int_("bound_count", 47, 52),
                amount("bound_total", 53, 69),
                int_("pledged_count", 70, 75),
                amount("pledged_total", 76, 92),
                int_("discounted_count", 93, 98),
                amount("discounted_total", 99, 115),
                alpha("notice_number", 116, 123),
            ),
        ),
        Record(
            "file_trailer",
            240,
            (
                num("bank", 1, 3),
                const("batch", 4, 7, "9999"),
                const("record_type", 8, 8, "9"),
                int_("batch_count", 18, 23),
                int_("record_count", 24, 29),
            ),
        ),
    )
}


@dataclass(frozen=True)
class Cnab240Bank:
    """A bank's CNAB 240 cobrança dialect: header names and layout versions,
    the fields it moves (record name -> fields replacing the FEBRABAN ones),
    return-file records that differ from its remittance records, and extra
    occurrence codes."""

    name: str
    file_version: str
    batch_version: str
    overrides: dict = field(default_factory=dict)
    return_overrides: dict = field(default_factory=dict)
    occurrences: dict = field(default_factory=dict)
    variants: dict = field(default_factory=dict)  # free-field variant -> overrides


# Itaú: carteira, nosso número (8) and its DAC instead of the 20-character field
_ITAU_OUR_NUMBER = (
    num("portfolio", 38, 40),
    num("our_number", 41, 48),
    alpha("our_number_digit", 49, 49),
)

# Santander: agência (4) + conta (9), each with its digit, instead of 5 + 12
_SANTANDER_ACCOUNT = (
    num("branch", 18, 21),
    alpha("branch_digit", 22, 22),
    num("account", 23, 31),
    alpha("account_digit", 32, 32),
)

CNAB240_BANKS = {
    "001": Cnab240Bank(
        "BANCO DO BRASIL S.A.",
        "083",
        "042",
        overrides={"batch_trailer": (filler(124, 240, "0"),)},
    ),
    "033": Cnab240Bank(
        "BANCO SANTANDER",
        "040",
        "030",
        overrides={
            "file_header": (
                num("company_document_type", 17, 17),
                doc("company_document", 18, 32),
                alpha("agreement", 33, 52),  # código de transmissão
                filler(53, 72),
                filler(152, 157),
                filler(167, 171),
            ),
            "batch_header": (filler(34, 53), alpha("agreement", 54, 68), filler(69, 73)),
            "P": (
                *_SANTANDER_ACCOUNT,
                num("collection_account", 33, 41),
                alpha("collection_account_digit", 42, 42),
                num("our_number", 45, 56),
                alpha("our_number_digit", 57, 57),
            ),
            "T": (
                *_SANTANDER_ACCOUNT,
                num("our_number", 41, 52),
                alpha("our_number_digit", 53, 53),
                num("portfolio_code", 54, 54),
                alpha("document_number", 55, 69),
                date_("due_date", 70, 77),
                amount("amount", 78, 92),
                num("collecting_bank", 93, 95),
                num("collecting_branch", 96, 99),
                alpha("collecting_branch_digit", 100, 100),
                alpha("company_use", 101, 125),
                num("currency", 126, 127),
                num("payer_document_type", 128, 128),
                doc("payer_document", 129, 143),
                text("payer_name", 144, 183),
                alpha("contract", 184, 193),
                amount("fee", 194, 208),
                alpha("rejection_reasons", 209, 218),
            ),
        },
        return_overrides={
            "file_header": (
                num("company_document_type", 17, 17),
                doc("company_document", 18, 32),
                num("branch", 33, 36),
                alpha("branch_digit", 37, 37),
                num("account", 38, 46),
                alpha("account_digit", 47, 47),
                alpha("agreement", 53, 61),  # código do beneficiário
                filler(62, 72),
                filler(152, 157),
                filler(167, 171),
            ),
            "batch_header": (
                alpha("agreement", 34, 53),
                num("branch", 54, 57),
                alpha("branch_digit", 58, 58),
                num("account", 59, 67),
                alpha("account_digit", 68, 68),
                filler(69, 73),
            ),
        },
    ),
    "104": Cnab240Bank(
        "CAIXA ECONOMICA FEDERAL",
        "050",
        "030",
        overrides={
            "file_header": (alpha("application_version", 212, 215),),
            "batch_header": (filler(12, 13, "0"),),
            "P": (
                num("agreement", 24, 29),
                num("caixa_reserved", 30, 40),
                num("our_number", 41, 57),  # modalidade (2) + nosso número (15)
            ),
            # segment T: the document number ends at 69, 70-73 are Caixa's own
            # (brcobranca retorno/cnab240/caixa.rb reads nosso número 40-56)
            "T": (
                num("our_number", 40, 56),
                alpha("document_number", 59, 69),
                alpha("caixa_reserved", 70, 73),
            ),
            "batch_trailer": (filler(93, 240),),
        },
        occurrences={"46": ("paid", "Liquidação on-line")},
        # código do beneficiário of 7 digits: segment P 24-30, Caixa's 31-40
        # (as eduardokum/laravel-boleto 0081d095 src/Cnab/Remessa/Cnab240/Banco/
        # Caixa.php writes it)
        variants={
            "beneficiary7": {
                "P": (num("agreement", 24, 30), num("caixa_reserved", 31, 40)),
            }
        },
    ),
    "237": Cnab240Bank("BRADESCO", "084", "042"),
    "341": Cnab240Bank(
        "BANCO ITAU SA",
        "040",
        "030",
        overrides={"P": _ITAU_OUR_NUMBER, "T": _ITAU_OUR_NUMBER},
    ),
    "748": Cnab240Bank(
        "SICREDI", "081", "040", overrides={"file_trailer": (int_("account_count", 30, 35),)}
    ),
    "756": Cnab240Bank(
        "SICOOB", "081", "040", overrides={"file_trailer": (int_("account_count", 30, 35),)}
    ),
}


def cnab240_bank(bank):
    try:
        return CNAB240_BANKS[bank]
    except KeyError:
        raise KeyError(
            f"no CNAB 240 layout for bank {bank!r} (known: {', '.join(sorted(CNAB240_BANKS))})"
        ) from None


def occurrences_240(bank):
    """Occurrence table (code -> (kind, description)) of ``bank``."""
    return {**OCCURRENCES_240, **getattr(CNAB240_BANKS.get(bank), "occurrences", {})}


# ---------------------------------------------------------------------------
# CNAB 400
# ---------------------------------------------------------------------------

_DDMMYY = "%d%m%y"


def _date6(name, start, end):
    return date_(name, start, end, _DDMMYY)


_RETURN_HEADER = (
    const("record_type", 1, 1, "0"),
    const("file_type", 2, 2, "2"),
    const("file_literal", 3, 9, "RETORNO"),
    const("service_type", 10, 11, "01"),
    alpha("service_literal", 12, 26),
    text("company_name", 47, 76),
    num("bank", 77, 79),
    text("bank_name", 80, 94),
    _date6("generated_on", 95, 100),
    int_("sequence", 395, 400),
)

_RETURN_TRAILER = Record(
    "trailer",
    400,
    (
        const("record_type", 1, 1, "9"),
        const("file_type", 2, 2, "2"),
        const("service_type", 3, 4, "01"),
        num("bank", 5, 7),
        int_("sequence", 395, 400),
    ),
)

# Amounts common to the Bradesco, Itaú and BB return details
_RETURN_AMOUNTS = (
    num("occurrence", 109, 110),
    _date6("occurrence_date", 111, 116),
    alpha("document_number", 117, 126),
    _date6("due_date", 147, 152),
    amount("amount", 153, 165),
    num("collecting_bank", 166, 168),
    alpha("document_kind", 174, 175),
    amount("iof", 215, 227),
    amount("rebate", 228, 240),
    amount("discount", 241, 253),
    amount("amount_paid", 254, 266),
    amount("interest_fine", 267, 279),
    amount("other_credits", 280, 292),
    int_("sequence", 395, 400),
)

_REMITTANCE_HEADER = (
    const("record_type", 1, 1, "0"),
    const("file_type", 2, 2, "1"),
    const("file_literal", 3, 9, "REMESSA"),
    const("service_type", 10, 11, "01"),
    const("service_literal", 12, 26, "COBRANCA"),
    text("company_name", 47, 76),
    _date6("generated_on", 95, 100),
    int_("sequence", 395, 400),
)

_REMITTANCE_TRAILER = Record(
    "trailer", 400, (const("record_type", 1, 1, "9"), int_("sequence", 395, 400))
)

# Payer block of the Itaú and BB details (219-351)
_PAYER_400 = (
    num("payer_document_type", 219, 220),  # 01 CPF, 02 CNPJ
    doc("payer_document", 221, 234),
    text("payer_address", 275, 314),
    text("payer_district", 315, 326),
    num("payer_postal_code", 327, 334),
    text("payer_city", 335, 349),
    alpha("payer_state", 350, 351),
)

# Title block common to the Itaú and BB details (109-218)
_TITLE_400 = (
    num("movement", 109, 110),
    alpha("document_number", 111, 120),
    _date6("due_date", 121, 126),
    amount("amount", 127, 139),
    alpha("acceptance", 150, 150, "N"),
    _date6("issue_date", 151, 156),
    amount("interest", 161, 173),  # por dia de atraso
    _date6("discount_date", 174, 179),
    amount("discount", 180, 192),
    amount("iof", 193, 205),
    amount("rebate", 206, 218),
)

# Pix records of a boleto híbrido in CNAB 400 returns, one after the detail
# record of their title (positions as read by eduardokum/laravel-boleto, commit
# 0081d0958f6257c39d4594ce2ca466d725cd5b5c, src/Cnab/Retorno/Cnab400/Banco/
# {Bradesco,Itau}.php): Bradesco record 4 with the QR location (URL) and the
# txid; Itaú record 3 with the copy-and-paste code (EMV) and a Pix error code.
_PIX_400 = {
    "237": Record(
        "pix",
        400,
        (
            const("record_type", 1, 1, "4"),
            alpha("pix_location", 29, 105),
            alpha("pix_txid", 106, 140),
            int_("sequence", 395, 400),
        ),
    ),
    "341": Record(
        "pix",
        400,
        (
            const("record_type", 1, 1, "3"),
            alpha("pix_code", 2, 391),
            alpha("pix_error", 392, 394),
            int_("sequence", 395, 400),
        ),
    ),
}

CNAB400 = {
    ("341", "remittance"): {
        # Itaú "Cobrança CNAB 400" (layout of brcobranca's remessa/cnab400/itau.rb)
        "header": Record(
            "header",
            400,
            (
                *_REMITTANCE_HEADER,
                num("branch", 27, 30),
                filler(31, 32, "0"),
                num("account", 33, 37),
                alpha("account_digit", 38, 38),
                num("bank", 77, 79, "341"),
                text("bank_name", 80, 94, "BANCO ITAU SA"),
            ),
        ),
        "detail": Record(
            "detail",
            400,
            (
                const("record_type", 1, 1, "1"),
                num("company_document_type", 2, 3),
                doc("company_document", 4, 17),
                num("branch", 18, 21),
                filler(22, 23, "0"),
                num("account", 24, 28),
                alpha("account_digit", 29, 29),
                num("cancelled_instruction", 34, 37, "0000"),
                text("company_use", 38, 62),
                num("our_number", 63, 70),
                amount("currency_quantity", 71, 83, decimals=5),
                num("portfolio", 84, 86),
                alpha("bank_operation", 87, 107),
                alpha("portfolio_code", 108, 108, "I"),
                *_TITLE_400,
                num("collecting_bank", 140, 142, "341"),
                num("collecting_branch", 143, 147),
                alpha("document_kind", 148, 149, "01"),  # 01 duplicata mercantil
                alpha("instruction1", 157, 158),
                alpha("instruction2", 159, 160),
                *_PAYER_400,
                text("payer_name", 235, 264),
                text("guarantor", 352, 381),
                _date6("interest_date", 386, 391),
                num("protest_days", 392, 393),
                int_("sequence", 395, 400),
            ),
        ),
        "trailer": _REMITTANCE_TRAILER,
    },
    ("001", "remittance"): {
        # Banco do Brasil CBR641, convênio of 7 digits (brcobranca's
        # remessa/cnab400/banco_brasil.rb): detail record type 7
        "header": Record(
            "header",
            400,
            (
                *_REMITTANCE_HEADER,
                num("branch", 27, 30),
                alpha("branch_digit", 31, 31),
                num("account", 32, 39),
                alpha("account_digit", 40, 40),
                filler(41, 46, "0"),
                num("bank", 77, 79, "001"),
                text("bank_name", 80, 94, "BANCODOBRASIL"),
                int_("file_sequence", 101, 107),
                num("leader_agreement", 130, 136),
            ),
        ),
        "detail": Record(
            "detail",
            400,
            (
                const("record_type", 1, 1, "7"),
                num("company_document_type", 2, 3),
                doc("company_document", 4, 17),
                num("branch", 18, 21),
                alpha("branch_digit", 22, 22),
                num("account", 23, 30),
                alpha("account_digit", 31, 31),
                num("agreement", 32, 38),
                text("company_use", 39, 63),
                num("our_number", 64, 80),  # convênio (7) + sequence (10)
                num("installment", 81, 82, "00"),
                num("value_group", 83, 84, "00"),
                alpha("message_indicator", 88, 88),
                alpha("title_prefix", 89, 91),
                num("portfolio_variation", 92, 94),
                num("guarantee_account", 95, 95, "0"),
                num("bordero", 96, 101, "000000"),
                alpha("charge_type", 102, 106),
                num("portfolio", 107, 108),
                *_TITLE_400,
                num("collecting_bank", 140, 142, "001"),
                num("collecting_branch", 143, 146, "0000"),
                alpha("collecting_branch_digit", 147, 147),
                num("document_kind", 148, 149, "01"),  # 01 duplicata mercantil
                num("instruction1", 157, 158, "00"),
                num("instruction2", 159, 160, "00"),
                *_PAYER_400,
                text("payer_name", 235, 271),
                text("guarantor", 352, 391),
                num("protest_days", 392, 393),
                int_("sequence", 395, 400),
            ),
        ),
        "trailer": _REMITTANCE_TRAILER,
    },
    ("033", "remittance"): {
        # Santander CNAB 400 version 058 (brcobranca's remessa/cnab400/santander.rb);
        # the agreement is the código de transmissão (20 digits)
        "header": Record(
            "header",
            400,
            (
                *_REMITTANCE_HEADER,
                num("agreement", 27, 46),
                num("bank", 77, 79, "033"),
                text("bank_name", 80, 94, "SANTANDER"),
                filler(101, 116, "0"),
                num("layout_version", 392, 394, "058"),
            ),
        ),
        "detail": Record(
            "detail",
            400,
            (
                const("record_type", 1, 1, "1"),
                num("company_document_type", 2, 3),
                doc("company_document", 4, 17),
                num("agreement", 18, 37),
                text("company_use", 38, 62),
                num("our_number", 63, 70),  # nosso número (7) + its digit
                _date6("discount2_date", 71, 76),
                num("fine_code", 78, 78, "0"),  # 4 with fine, 0 without
                amount("fine", 79, 82),  # percent
                num("currency_unit", 83, 84, "00"),
                amount("other_currency_amount", 85, 97),
                _date6("fine_date", 102, 107),
                num("portfolio_code", 108, 108, "1"),  # 1 eletrônica com registro
                *_TITLE_400,
                num("collecting_bank", 140, 142, "033"),
                num("collecting_branch", 143, 147, "00000"),
                num("document_kind", 148, 149, "01"),  # 01 duplicata
                num("instruction1", 157, 158, "00"),
                num("instruction2", 159, 160, "00"),
                *_PAYER_400,
                text("payer_name", 235, 274),
                text("guarantor", 352, 381),
                alpha("complement_id", 383, 383),
                alpha("complement", 384, 385),
                num("protest_days", 392, 393),
                int_("sequence", 395, 400),
            ),
        ),
        "trailer": Record(
            "trailer",
            400,
            (
                const("record_type", 1, 1, "9"),
                int_("record_count", 2, 7),  # lines in the file
                amount("title_total", 8, 20),
                filler(21, 394, "0"),
                int_("sequence", 395, 400),
            ),
        ),
    },
    ("756", "remittance"): {
        # Sicoob CNAB 400 (brcobranca's remessa/cnab400/sicoob.rb): branch is
        # the cooperativa, agreement the código do cliente; acceptance 0/1
        "header": Record(
            "header",
            400,
            (
                *_REMITTANCE_HEADER,
                num("branch", 27, 30),
                alpha("branch_digit", 31, 31),
                num("agreement", 32, 39),
                alpha("agreement_digit", 40, 40),
                num("bank", 77, 79, "756"),
                text("bank_name", 80, 94, "BANCOOBCED"),
                int_("file_sequence", 101, 107),
            ),
        ),
        "detail": Record(
            "detail",
            400,
            (
                const("record_type", 1, 1, "1"),
                num("company_document_type", 2, 3),
                doc("company_document", 4, 17),
                num("branch", 18, 21),
                alpha("branch_digit", 22, 22),
                num("account", 23, 30),
                alpha("account_digit", 31, 31),
                num("collection_agreement", 32, 37, "000000"),
                text("company_use", 38, 62),
                num("our_number", 63, 74),  # with its check digit
                num("installment", 75, 76, "01"),
                num("value_group", 77, 78, "00"),
                alpha("message_indicator", 82, 82),
                num("portfolio_variation", 86, 88, "000"),
                num("guarantee_account", 89, 89, "0"),
                num("guarantee_contract", 90, 94, "00000"),
                num("guarantee_contract_digit", 95, 95, "0"),
                num("bordero", 96, 101, "000000"),
                num("issuer", 106, 106, "2"),  # 2 cliente emite
                num("portfolio", 107, 108, "01"),  # 01 simples com registro
                num("movement", 109, 110),
                alpha("document_number", 111, 120),
                _date6("due_date", 121, 126),
                amount("amount", 127, 139),
                num("collecting_bank", 140, 142, "756"),
                num("collecting_branch", 143, 146),
                alpha("collecting_branch_digit", 147, 147),
                num("document_kind", 148, 149, "01"),  # 01 duplicata mercantil
                num("acceptance", 150, 150, "0"),  # 0 não aceite
                _date6("issue_date", 151, 156),
                num("instruction1", 157, 158, "00"),
                num("instruction2", 159, 160, "00"),
                amount("interest_rate", 161, 166, decimals=4),  # % a month
                amount("fine", 167, 172, decimals=4),  # percent
                num("distribution", 173, 173, "2"),  # 2 cliente distribui
                _date6("discount_date", 174, 179),
                amount("discount", 180, 192),
                amount("iof", 193, 205),
                amount("rebate", 206, 218),
                num("payer_document_type", 219, 220),
                doc("payer_document", 221, 234),
                text("payer_name", 235, 274),
                text("payer_address", 275, 311),
                text("payer_district", 312, 326),
                num("payer_postal_code", 327, 334),
                text("payer_city", 335, 349),
                alpha("payer_state", 350, 351),
                text("guarantor", 352, 391),
                num("protest_days", 392, 393),
                int_("sequence", 395, 400),
            ),
        ),
        "trailer": Record(
            "trailer",
            400,
            (const("record_type", 1, 1, "9"), filler(2, 394, "0"), int_("sequence", 395, 400)),
        ),
    },
    ("237", "remittance"): {
        "header": Record(
            "header",
            400,
            (
                const("record_type", 1, 1, "0"),
                const("file_type", 2, 2, "1"),
                const("file_literal", 3, 9, "REMESSA"),
                const("service_type", 10, 11, "01"),
                const("service_literal", 12, 26, "COBRANCA"),
                num("agreement", 27, 46),  # código da empresa
                text("company_name", 47, 76),
                num("bank", 77, 79, "237"),
                text("bank_name", 80, 94, "BRADESCO"),
                _date6("generated_on", 95, 100),
                const("system_id", 109, 110, "MX"),
                int_("file_sequence", 111, 117),
                int_("sequence", 395, 400),
            ),
        ),
        "detail": Record(
            "detail",
            400,
            (
                const("record_type", 1, 1, "1"),
                num("debit_branch", 2, 6),
                alpha("debit_branch_digit", 7, 7, "0"),
                num("debit_account_ratio", 8, 12),
                num("debit_account", 13, 19),
                alpha("debit_account_digit", 20, 20, "0"),
                filler(21, 21, "0"),
                num("portfolio", 22, 24),
                num("branch", 25, 29),
                num("account", 30, 36),
                alpha("account_digit", 37, 37),
                text("company_use", 38, 62),
                num("debit_bank", 63, 65),
                num("fine_code", 66, 66),  # 0 sem multa, 2 percentual
                amount("fine", 67, 70),
                num("our_number", 71, 81),
                alpha("our_number_digit", 82, 82),
                amount("daily_discount", 83, 92),
                num("issuer", 93, 93, "2"),  # 1 banco emite, 2 cliente emite
                alpha("debit_notice", 94, 94, "N"),
                alpha("bank_operation", 95, 104),
                alpha("apportionment", 105, 105),
                num("debit_notice_address", 106, 106, "2"),
                alpha("installments", 107, 108),
                num("movement", 109, 110),
                alpha("document_number", 111, 120),
                _date6("due_date", 121, 126),
                amount("amount", 127, 139),
                num("collecting_bank", 140, 142),
                num("collecting_branch", 143, 147),
                num("document_kind", 148, 149, "01"),  # 01 duplicata
                alpha("acceptance", 150, 150, "N"),
                _date6("issue_date", 151, 156),
                num("instruction1", 157, 158),
                num("instruction2", 159, 160),
                amount("interest", 161, 173),  # por dia de atraso
                _date6("discount_date", 174, 179),
                amount("discount", 180, 192),
                amount("iof", 193, 205),
                amount("rebate", 206, 218),
                num("payer_document_type", 219, 220),  # 01 CPF, 02 CNPJ
                doc("payer_document", 221, 234),
                text("payer_name", 235, 274),
                text("payer_address", 275, 314),
                text("message1", 315, 326),
                num("payer_postal_code", 327, 334),
                text("guarantor", 335, 394),
                int_("sequence", 395, 400),
            ),
        ),
        "trailer": Record(
            "trailer", 400, (const("record_type", 1, 1, "9"), int_("sequence", 395, 400))
        ),
    },
    ("237", "return"): {
        "header": Record(
            "header",
            400,
            (
                *_RETURN_HEADER,
                num("agreement", 27, 46),
                num("density", 101, 108),
                int_("notice_number", 109, 113),
                _date6("credit_date", 380, 385),
            ),
        ),
        "detail": Record(
            "detail",
            400,
            (
                const("record_type", 1, 1, "1"),
                num("company_document_type", 2, 3),
                doc("company_document", 4, 17),
                num("portfolio", 22, 24),
                num("branch", 25, 29),
                num("account", 30, 36),
                alpha("account_digit", 37, 37),
                alpha("company_use", 38, 62),
                num("our_number", 71, 81),
                alpha("our_number_digit", 82, 82),
                alpha("apportionment", 105, 105),
                num("partial_payment", 106, 107),
                num("portfolio_code", 108, 108),
                alpha("bank_title_id", 127, 146),
                num("collecting_branch", 169, 173),
                amount("fee", 176, 188),
                amount("other_expenses", 189, 201),
                amount("late_interest", 202, 214),
                alpha("occurrence_reason", 295, 295),
                _date6("credit_date", 296, 301),
                alpha("payment_origin", 302, 304),
                alpha("check_number", 315, 318),
                alpha("rejection_reasons", 319, 328),
                alpha("registry_office", 369, 370),
                alpha("protocol", 371, 380),
                *_RETURN_AMOUNTS,
            ),
        ),
        "trailer": _RETURN_TRAILER,
    },
    ("341", "return"): {
        "header": Record(
            "header",
            400,
            (
                *_RETURN_HEADER,
                num("branch", 27, 30),
                num("account", 33, 37),
                alpha("account_digit", 38, 38),
            ),
        ),
        "detail": Record(
            "detail",
            400,
            (
                const("record_type", 1, 1, "1"),
                num("company_document_type", 2, 3),
                doc("company_document", 4, 17),
                num("branch", 18, 21),
                num("account", 24, 28),
                alpha("account_digit", 29, 29),
                alpha("company_use", 38, 62),
                num("our_number", 63, 70),
                num("portfolio", 83, 85),
                num("bank_our_number", 86, 93),
                alpha("our_number_digit", 94, 94),
                alpha("portfolio_code", 108, 108),
                num("collecting_branch", 169, 172),
                alpha("collecting_branch_digit", 173, 173),
                amount("fee", 176, 188),
                alpha("dda", 293, 293),
                _date6("credit_date", 296, 301),
                alpha("cancelled_instruction", 302, 305),
                text("payer_name", 325, 354),
                alpha("rejection_reasons", 378, 385),
                alpha("settlement_code", 393, 394),
                *_RETURN_AMOUNTS,
            ),
        ),
        "trailer": _RETURN_TRAILER,
    },
    ("001", "return"): {
        "header": Record(
            "header",
            400,
            (
                *_RETURN_HEADER,
                num("branch", 27, 30),
                alpha("branch_digit", 31, 31),
                num("account", 32, 39),
                alpha("account_digit", 40, 40),
                int_("file_sequence", 101, 107),
            ),
        ),
        "detail": Record(
            "detail",
            400,
            (
                const("record_type", 1, 1, "7"),  # convênio de 7 dígitos (CBR643)
                num("company_document_type", 2, 3),
                doc("company_document", 4, 17),
                num("branch", 18, 21),
                alpha("branch_digit", 22, 22),
                num("account", 23, 30),
                alpha("account_digit", 31, 31),
                num("agreement", 32, 38),
                alpha("company_use", 39, 63),
                num("our_number", 64, 80),
                num("charge_type", 81, 81),
                num("portfolio_variation", 92, 94),
                num("portfolio", 107, 108),
                num("collecting_branch", 169, 172),
                alpha("collecting_branch_digit", 173, 173),
                _date6("credit_date", 176, 181),
                amount("fee", 182, 188),
                amount("other_expenses", 189, 201),
                amount("unused_rebate", 293, 305),
                amount("entry_amount", 306, 318),
                *_RETURN_AMOUNTS,
            ),
        ),
        "trailer": _RETURN_TRAILER,
    },
}

for (_bank, _direction), _records in CNAB400.items():
    if _direction == "return" and _bank in _PIX_400:
        _records["pix"] = _PIX_400[_bank]
