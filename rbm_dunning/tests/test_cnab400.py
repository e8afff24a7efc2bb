import base64
from datetime import date
from decimal import Decimal

from odoo.tests import tagged

from ..engine import cnab
from .common import COMPANY_CNPJ, RbmDunningCase


@tagged("post_install", "-at_install")
class TestCnab400Banks(RbmDunningCase):
    """CNAB 400 collection accounts besides Bradesco: Itaú (remittance and
    return) and Banco do Brasil (remittance)."""

    def _account_400(self, **vals):
        account = self._make_collection_account(layout="cnab400", **vals)
        account.sequence = 0  # before the Itaú CNAB 240 account: the default one
        return account

    def _write_400(self, record, values):
        return record.to_line({k: v for k, v in values.items() if k in record.names})

    def test_itau_cnab400_remittance_and_return(self):
        account = self._account_400(name="Itaú 109 (400)", protest_days=5)
        invoice = self._bill_contract()
        boleto = invoice.rbm_boleto_ids
        self.assertEqual(boleto.collection_account_id, account)
        remittance = self.env["rbm.cnab.file"]._generate_remittance(account)
        parsed = cnab.parse_cnab400(base64.b64decode(remittance.datas))
        self.assertEqual(parsed.bank, "341")
        header = parsed.records[0]
        self.assertEqual((header["branch"], header["account"]), ("0810", "53678"))
        (detail,) = parsed.of_kind("detail")
        self.assertEqual(f"109/{detail['our_number']}", boleto.our_number[:-2])
        self.assertEqual((detail["portfolio"], detail["movement"]), ("109", "01"))
        self.assertEqual(
            (detail["amount"], detail["due_date"]), (Decimal("150.00"), boleto.due_date)
        )
        self.assertEqual(detail["document_number"], invoice.name[-10:])
        self.assertEqual(detail["payer_document"], "00039053344705")
        # protest after 5 days: Itaú instruction 09 with the days in 392-393
        self.assertEqual((detail["instruction1"], detail["protest_days"]), ("09", "05"))
        # espécie DS (services, the default) is Itaú's code 08 in CNAB 400
        self.assertEqual(detail["document_kind"], "08")
        self.assertEqual(remittance.occurrence_ids.line_number, 2)
        self.assertEqual(boleto.state, "in_remessa")

        # the bank's return (Itaú CNAB 400): paid with interest, fee
        layout = cnab.cnab400_layout("341", "return")
        common = {"company_document_type": "02", "company_document": COMPANY_CNPJ}
        lines = [
            self._write_400(
                layout["header"],
                {
                    "bank": "341",
                    "branch": "0810",
                    "account": "53678",
                    "generated_on": date(2026, 3, 12),
                    "sequence": 1,
                },
            ),
            self._write_400(
                layout["detail"],
                {
                    **common,
                    "branch": "0810",
                    "account": "53678",
                    "our_number": detail["our_number"],
                    "portfolio": "109",
                    "occurrence": "06",
                    "occurrence_date": date(2026, 3, 11),
                    "due_date": boleto.due_date,
                    "amount": Decimal("150.00"),
                    "amount_paid": Decimal("153.50"),
                    "interest_fine": Decimal("3.50"),
                    "fee": Decimal("1.80"),
                    "credit_date": date(2026, 3, 12),
                    "sequence": 2,
                },
            ),
            self._write_400(layout["trailer"], {"bank": "341", "sequence": 3}),
        ]
        content = ("\r\n".join(lines) + "\r\n").encode("latin-1")
        cnab_file = self.env["rbm.cnab.file"]._import_return(account, content, "ret400.ret")
        self.assertEqual(cnab_file.layout, "cnab400")
        self.assertEqual(boleto.state, "paid")
        self.assertEqual((boleto.payment_id.amount, boleto.paid_date), (153.5, date(2026, 3, 12)))
        self.assertEqual(invoice.amount_residual, 0.0)
        self.assertEqual(cnab_file.fee_move_id.amount_total, 1.8)

    def test_banco_do_brasil_cnab400_remittance(self):
        account = self._account_400(
            name="BB 17 (400)",
            bank_code="001",
            branch="1234",
            branch_digit="3",
            account_number="12343",
            account_digit="3",
            portfolio="17",
            agreement="1234567",
        )
        invoice = self._bill_contract()
        boleto = invoice.rbm_boleto_ids
        self.assertEqual(boleto.collection_account_id, account)
        boleto.due_date = date(2026, 3, 17)  # (draft: the entry carries it)
        remittance = self.env["rbm.cnab.file"]._generate_remittance(account)
        parsed = cnab.parse_cnab400(base64.b64decode(remittance.datas))
        header = parsed.records[0]
        self.assertEqual((header["bank"], header["file_sequence"]), ("001", 1))
        (detail,) = parsed.of_kind("detail")
        self.assertEqual(detail.kind, "detail")
        self.assertEqual(detail["agreement"], "1234567")
        self.assertEqual(detail["our_number"], "12345670000000001")
        self.assertEqual(boleto.our_number_key, "12345670000000001")
        self.assertEqual((detail["portfolio"], detail["movement"]), ("17", "01"))
        self.assertEqual(
            (detail["amount"], detail["due_date"]), (Decimal("150.00"), date(2026, 3, 17))
        )
        self.assertEqual(remittance.occurrence_ids.line_number, 2)
        # a write-off goes out as movement 02 of the same title
        invoice.button_draft()
        remittance = self.env["rbm.cnab.file"]._generate_remittance(account)
        (detail,) = cnab.parse_cnab400(base64.b64decode(remittance.datas)).of_kind("detail")
        self.assertEqual((detail["movement"], detail["our_number"]), ("02", "12345670000000001"))

    def test_document_species_code_of_each_bank_in_the_remittance(self):
        """The remittance carries the espécie code of the account's bank for
        the species chosen on the account, as each bank's CNAB 400 manual
        prints it (positions 148-149 of the detail record)."""
        # (bank, account settings, code for DS, code for DM), from the manuals:
        # BB "Layout de Arquivo Remessa CNAB400" April 2012, note 07; Bradesco
        # "Manual de Procedimentos" nº 4008.524.0121 version 11; Itaú
        # "Intercâmbio Eletrônico de Arquivos" July 2021, note 10. (Santander
        # and Sicoob collection accounts use CNAB 240: their CNAB 400 codes
        # are covered by the engine tests.)
        banks = [
            ("001", {"branch": "1234", "branch_digit": "3", "account_number": "12343",
                     "account_digit": "3", "portfolio": "17", "agreement": "1234567"}, "12", "01"),
            ("237", {"branch": "1172", "account_number": "0403005", "account_digit": "1",
                     "portfolio": "09", "cnab_agreement": "4540691"}, "12", "01"),
            ("341", {}, "08", "01"),
        ]  # fmt: skip
        for bank, settings, ds_code, dm_code in banks:
            for species, code in (("DS", ds_code), ("DM", dm_code)):
                with self.subTest(bank=bank, species=species):
                    self.env["rbm.collection.account"].search([]).sequence = 50
                    account = self._account_400(
                        name=f"{bank} {species} (400)",
                        bank_code=bank,
                        document_species=species,
                        **settings,
                    )
                    boleto = self._bill_contract().rbm_boleto_ids
                    self.assertEqual(boleto.collection_account_id, account)
                    remittance = self.env["rbm.cnab.file"]._generate_remittance(account)
                    (detail,) = cnab.parse_cnab400(base64.b64decode(remittance.datas)).of_kind(
                        "detail"
                    )
                    self.assertEqual(detail["document_kind"], code)
