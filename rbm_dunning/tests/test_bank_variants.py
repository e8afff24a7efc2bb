import base64
from datetime import date
from decimal import Decimal

from odoo.exceptions import ValidationError
from odoo.tests import Form, tagged

from ..engine import boleto as boleto_engine
from ..engine import cnab
from .common import COMPANY_CNPJ, RbmDunningCase


@tagged("post_install", "-at_install")
class TestBankVariants(RbmDunningCase):
    """Collection accounts of the bank variants configured as a user does
    (Form): Banco do Brasil convênio of 6 digits, Caixa's 7-digit código do
    beneficiário, Itaú carteira 196 with seu número; remittance and return
    of each, and a CNAB 400 return carrying a Pix record."""

    def _account_form(self, **vals):
        self.env["rbm.collection.account"].search([]).sequence = 50
        form = Form(self.env["rbm.collection.account"])
        form.name = vals.pop("name")
        form.partner_bank_id = self.company_bank
        form.journal_id = self.bank_journal
        form.interest_account_id = self.interest_account
        form.fee_account_id = self.fee_account
        for name, value in vals.items():
            setattr(form, name, value)
        account = form.save()
        account.sequence = 0
        return account

    def _write(self, record, values):
        return record.to_line({k: v for k, v in values.items() if k in record.names})

    def _return_240(self, account, boleto, our_number):
        layout = cnab.cnab240_layout(account.bank_code, "return")
        common = {"batch": 1, "company_document_type": "2", "company_document": COMPANY_CNPJ}
        lines = [
            self._write(
                layout["file_header"],
                {**common, "file_type": "2", "generated_on": date(2026, 3, 12), "file_sequence": 3},
            ),
            self._write(layout["batch_header"], {**common, "operation": "T"}),
            self._write(
                layout["T"],
                {
                    **common,
                    "sequence": 1,
                    "occurrence": "06",
                    "our_number": our_number,
                    "due_date": boleto.due_date,
                    "amount": Decimal("150.00"),
                },
            ),
            self._write(
                layout["U"],
                {
                    **common,
                    "sequence": 2,
                    "occurrence": "06",
                    "amount_paid": Decimal("150.00"),
                    "net_amount": Decimal("150.00"),
                    "occurrence_date": date(2026, 3, 11),
                    "credit_date": date(2026, 3, 12),
                },
            ),
        ]
        lines.append(self._write(layout["batch_trailer"], {**common, "record_count": 4}))
        lines.append(layout["file_trailer"].to_line({"batch_count": 1, "record_count": 6}))
        return ("\r\n".join(lines) + "\r\n").encode("latin-1")

    def test_bb_agreement6_remittance_and_return(self):
        account = self._account_form(
            name="BB convênio 6",
            bank_code="001",
            branch="4042",
            account_number="61900",
            portfolio="18",
            agreement="123879",
        )
        self.assertEqual(account._get_layout_variant(), "agreement6")
        invoice = self._bill_contract()
        boleto = invoice.rbm_boleto_ids
        self.assertEqual(boleto.collection_account_id, account)
        # convênio 123879 + sequence 00001 and its digit: 12387900001, weights 9..2
        # from the right: 1*9 + 9*4 + 7*3 + 8*2 + 3*9 + 2*8 + 1*7 = 132, 132 mod 11 = 0
        self.assertEqual(boleto.our_number, "12387900001-0")
        parsed = boleto_engine.parse_boleto(boleto.barcode, today=boleto.due_date)
        self.assertEqual(parsed.free_field, "1238790000140420006190018")
        remittance = self.env["rbm.cnab.file"]._generate_remittance(account)
        (p,) = cnab.parse_cnab240(base64.b64decode(remittance.datas)).of_kind("P")
        self.assertEqual(p["our_number"].strip(), "123879000010")
        self.assertEqual(boleto.our_number_key, "12387900001")
        content = self._return_240(account, boleto, "123879000010")
        self.env["rbm.cnab.file"]._import_return(account, content, "bb6.ret")
        self.assertEqual(boleto.state, "paid")
        self.assertEqual(invoice.amount_residual, 0.0)

    def test_bb_agreement_settings_refused_with_the_field(self):
        with self.assertRaisesRegex(ValidationError, "Beneficiary Code: .*no free-field layout"):
            self._account_form(
                name="BB convênio 5",
                bank_code="001",
                branch="4042",
                account_number="61900",
                portfolio="18",
                agreement="12345",
            )
        # a 6-digit convênio has no CNAB 400 layout here
        with self.assertRaisesRegex(ValidationError, "CNAB Layout"):
            self._account_form(
                name="BB convênio 6 (400)",
                bank_code="001",
                branch="4042",
                account_number="61900",
                portfolio="18",
                agreement="123879",
                layout="cnab400",
            )

    def test_caixa_beneficiary7_remittance_and_return(self):
        account = self._account_form(
            name="Caixa 7",
            bank_code="104",
            branch="1234",
            account_number="5678",
            agreement="1234567",
        )
        self.assertEqual(account._get_layout_variant(), "beneficiary7")
        boleto = self._bill_contract().rbm_boleto_ids
        self.assertEqual(boleto.collection_account_id, account)
        parsed = boleto_engine.parse_boleto(boleto.barcode, today=boleto.due_date)
        self.assertEqual(parsed.layout, "beneficiary7")
        self.assertEqual(parsed.fields["beneficiary_code"], "1234567")
        remittance = self.env["rbm.cnab.file"]._generate_remittance(account)
        p_line = base64.b64decode(remittance.datas).decode("latin-1").split("\r\n")[2]
        self.assertEqual(p_line[23:30], "1234567")
        self.assertEqual(p_line[40:57], "14000000000000001")
        content = self._return_240(account, boleto, "14000000000000001")
        self.env["rbm.cnab.file"]._import_return(account, content, "caixa7.ret")
        self.assertEqual(boleto.state, "paid")

    def test_itau_your_number_with_pix_record_in_the_return(self):
        account = self._account_form(
            name="Itaú 196 (400)",
            bank_code="341",
            branch="0810",
            account_number="53678",
            portfolio="196",
            agreement="12345",
            layout="cnab400",
        )
        self.assertEqual(account._get_layout_variant(), "your_number")
        boleto = self._bill_contract().rbm_boleto_ids
        self.assertEqual(boleto.collection_account_id, account)
        parsed = boleto_engine.parse_boleto(boleto.barcode, today=boleto.due_date)
        self.assertEqual(parsed.layout, "your_number")
        self.assertEqual(parsed.fields["client_code"], "12345")
        self.assertEqual(parsed.fields["your_number"], "0000001")
        remittance = self.env["rbm.cnab.file"]._generate_remittance(account)
        (detail,) = cnab.parse_cnab400(base64.b64decode(remittance.datas)).of_kind("detail")
        self.assertEqual((detail["portfolio"], detail["our_number"]), ("196", "00000001"))
        # the return: the title paid, then Itaú's Pix record (type 3) with the
        # copy-and-paste code of the boleto híbrido
        emv = (
            "00020101021226720014br.gov.bcb.pix2550bx.com.br/pix/8b3da2f3-9a41-40d1-a91a-"
            "bd93113bd4415204000053039865406123.455802BR5913Fulano de Tal6008BRASILIA"
            "62190515RP12345678-2019630445C8"
        )  # Banco Central, Manual do BR Code, dynamic example
        layout = cnab.cnab400_layout("341", "return")
        lines = [
            self._write(
                layout["header"],
                {
                    "bank": "341",
                    "branch": "0810",
                    "account": "53678",
                    "generated_on": date(2026, 3, 12),
                    "sequence": 1,
                },
            ),
            self._write(
                layout["detail"],
                {
                    "company_document_type": "02",
                    "company_document": COMPANY_CNPJ,
                    "branch": "0810",
                    "account": "53678",
                    "our_number": "00000001",
                    "portfolio": "196",
                    "occurrence": "06",
                    "occurrence_date": date(2026, 3, 11),
                    "due_date": boleto.due_date,
                    "amount": Decimal("150.00"),
                    "amount_paid": Decimal("150.00"),
                    "credit_date": date(2026, 3, 12),
                    "sequence": 2,
                },
            ),
            "3" + emv.ljust(390) + "000" + "000003",
            self._write(layout["trailer"], {"bank": "341", "sequence": 4}),
        ]
        content = ("\r\n".join(lines) + "\r\n").encode("latin-1")
        cnab_file = self.env["rbm.cnab.file"]._import_return(account, content, "itau_pix.ret")
        self.assertEqual(boleto.state, "paid")
        self.assertEqual(boleto.pix_payload, emv)
        self.assertEqual(cnab_file.occurrence_ids.pix_code, emv)
