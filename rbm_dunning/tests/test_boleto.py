import base64
from datetime import date
from decimal import Decimal

from psycopg2 import IntegrityError
from reportlab.graphics.barcode.common import I2of5

from odoo.exceptions import UserError, ValidationError
from odoo.tests import Form, tagged
from odoo.tools import mute_logger

from ..engine import boleto as boleto_engine
from ..engine import cnab, pix
from .common import ITAU, RbmDunningCase


def _decode_i2of5(pattern):
    """Digits of an Interleaved 2 of 5 bar/space pattern (reportlab's
    ``decompose``: b/s narrow, B/S wide), start ``bsbs`` and stop ``Bsb``."""
    assert pattern.startswith("bsbs") and pattern.endswith("Bsb"), pattern
    body = pattern[4:-3]
    weights = (1, 2, 4, 7, 0)

    def digit(widths):
        value = sum(w for w, wide in zip(weights, widths, strict=True) if wide)
        return "0" if value == 11 else str(value)

    digits = []
    for start in range(0, len(body), 10):
        pair = body[start : start + 10]
        bars = [c.isupper() for c in pair[0::2]]
        spaces = [c.isupper() for c in pair[1::2]]
        digits += [digit(bars), digit(spaces)]
    return "".join(digits)


def _itau_boleto(due_date, amount="150.00", our_number="1"):
    """The engine's boleto of the test account (Itaú 0810/53678, carteira 109)."""
    return boleto_engine.make_boleto(
        "341",
        due_date,
        Decimal(amount),
        portfolio="109",
        branch="0810",
        account="53678",
        our_number=our_number,
    )


@tagged("post_install", "-at_install")
class TestBoleto(RbmDunningCase):
    def test_contract_invoice_gets_its_boleto(self):
        invoice = self._bill_contract()
        boleto = invoice.rbm_boleto_ids
        self.assertEqual(len(boleto), 1)
        self.assertEqual(boleto.move_line_id.account_id.account_type, "asset_receivable")
        self.assertEqual((boleto.state, boleto.pending_instruction), ("draft", "entry"))
        self.assertEqual(boleto.amount, 150.0)
        self.assertEqual(boleto.due_date, date(2026, 3, 10))
        self.assertEqual(boleto.due_date, invoice.invoice_date_due)
        expected = _itau_boleto(date(2026, 3, 10))
        self.assertEqual(boleto.barcode, expected.barcode)
        self.assertEqual(boleto.typeable_line, expected.typeable_line)
        self.assertEqual(boleto.our_number, "109/00000001-" + expected.fields["our_number_digit"])
        self.assertEqual(self.account.next_our_number, 2)
        parsed = boleto_engine.parse_boleto(boleto.typeable_line, today=date(2026, 3, 1))
        self.assertEqual((parsed.amount, parsed.due_date), (Decimal("150.00"), date(2026, 3, 10)))
        # boleto híbrido: a BR Code for the same amount on the company's key
        payload = pix.parse_payload(boleto.pix_payload)
        self.assertEqual((payload.key, payload.amount), ("16727230000197", Decimal("150.00")))

    def test_invoice_prints_its_boleto_not_a_bank_transfer(self):
        """A boleto invoice's PDF gives the boleto's typeable line and its
        collection account, not Odoo's "Payment Communication … on this
        account" wording; an invoice paid by bank transfer keeps it."""
        invoice = self._bill_contract()
        boleto = invoice.rbm_boleto_ids
        html = (
            self.env["ir.actions.report"]
            ._render_qweb_html("account.account_invoices", invoice.ids)[0]
            .decode()
        )
        self.assertIn("rbm_boleto_block", html)
        self.assertIn(boleto.typeable_line, html)
        self.assertIn(self.account.name, html)
        self.assertNotIn("Payment Communication", html)
        transfer = self._bill_contract(start=date(2026, 4, 1), payment_mode="invoice")
        html = (
            self.env["ir.actions.report"]
            ._render_qweb_html("account.account_invoices", transfer.ids)[0]
            .decode()
        )
        self.assertNotIn("rbm_boleto_block", html)
        self.assertIn("Payment Communication", html)

    def test_only_boleto_invoices_get_boletos(self):
        invoice = self._bill_contract(payment_mode="pix")
        self.assertFalse(invoice.rbm_boleto_ids)
        # "Issue Boletos" on any posted customer invoice
        invoice.action_rbm_issue_boletos()
        self.assertEqual(len(invoice.rbm_boleto_ids), 1)
        with self.assertRaises(UserError) as caught:
            invoice.action_rbm_issue_boletos()
        self.assertIn("already has a boleto", str(caught.exception))

    def test_one_active_boleto_per_installment(self):
        invoice = self._bill_contract()
        boleto = invoice.rbm_boleto_ids
        vals = self.env["rbm.boleto"]._prepare_boleto_vals(self.account, boleto.move_line_id, 99)
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError), self.cr.savepoint():
            self.env["rbm.boleto"].create(vals)
        # issuing again skips it
        Boleto = self.env["rbm.boleto"]
        self.assertFalse(Boleto._issue_for_lines({self.account: boleto.move_line_id}))
        # once written off, the installment can get a new boleto
        boleto._write_off()
        new = Boleto._issue_for_lines({self.account: boleto.move_line_id})
        self.assertEqual((new.move_line_id, new.state), (boleto.move_line_id, "draft"))
        self.assertNotEqual(new.our_number, boleto.our_number)

    def test_installments_of_a_payment_term(self):
        term = self.env["account.payment.term"].create(
            {
                "name": "30/60",
                "line_ids": [
                    (0, 0, {"value": "percent", "value_amount": 50.0, "nb_days": 30}),
                    (0, 0, {"value": "percent", "value_amount": 50.0, "nb_days": 60}),
                ],
            }
        )
        invoice = self.init_invoice(
            "out_invoice",
            partner=self.customer,
            invoice_date="2026-03-01",
            amounts=[301.0],
            taxes=[],
        )
        invoice.write(
            {"invoice_payment_term_id": term.id, "rbm_collection_account_id": self.account.id}
        )
        invoice.action_post()
        boletos = invoice.rbm_boleto_ids.sorted("due_date")
        self.assertEqual(boletos.mapped("amount"), [150.5, 150.5])
        self.assertEqual(boletos.mapped("due_date"), [date(2026, 3, 31), date(2026, 4, 30)])
        self.assertEqual(len(set(boletos.mapped("our_number"))), 2)

    def test_cancel_writes_off(self):
        invoice = self._bill_contract()
        boleto = invoice.rbm_boleto_ids
        # never sent to the bank: just closed
        invoice.button_cancel()
        self.assertEqual((boleto.state, boleto.pending_instruction), ("written_off", False))
        # sent to the bank: a write-off for the next remittance
        invoice2 = self._bill_contract(start=date(2026, 4, 1))
        boleto2 = invoice2.rbm_boleto_ids
        self.env["rbm.cnab.file"]._generate_remittance(self.account)
        self.assertEqual(boleto2.state, "in_remessa")
        invoice2.button_draft()
        self.assertEqual((boleto2.state, boleto2.pending_instruction), ("written_off", "write_off"))
        remittance = self.env["rbm.cnab.file"]._generate_remittance(self.account)
        parsed = cnab.parse_cnab240(base64.b64decode(remittance.datas))
        (p,) = parsed.of_kind("P")
        self.assertEqual((p["movement"], p["our_number"]), ("02", "00000002"))
        self.assertFalse(boleto2.pending_instruction)
        # posted again: a new boleto for the installment
        invoice2.action_post()
        self.assertEqual(len(invoice2.rbm_boleto_ids.filtered(lambda b: b.state == "draft")), 1)

    def test_due_date_change(self):
        invoice = self._bill_contract()
        boleto = invoice.rbm_boleto_ids
        self.env["rbm.cnab.file"]._generate_remittance(self.account)
        boleto.state = "registered"
        boleto.due_date = date(2026, 3, 20)
        expected = _itau_boleto(date(2026, 3, 20))
        self.assertEqual(boleto.typeable_line, expected.typeable_line)
        self.assertEqual(boleto.pending_instruction, "change_due_date")
        self.assertEqual(boleto.move_line_id.date_maturity, date(2026, 3, 20))
        remittance = self.env["rbm.cnab.file"]._generate_remittance(self.account)
        (p,) = cnab.parse_cnab240(base64.b64decode(remittance.datas)).of_kind("P")
        self.assertEqual((p["movement"], p["due_date"]), ("06", date(2026, 3, 20)))
        self.assertEqual(boleto.state, "registered")
        boleto.state = "paid"
        with self.assertRaises(UserError) as caught:
            boleto.due_date = date(2026, 3, 25)
        self.assertIn("cannot change", str(caught.exception))

    def test_pdf(self):
        invoice = self._bill_contract()
        boleto = invoice.rbm_boleto_ids
        Report = self.env["ir.actions.report"]
        html, _type = Report._render_qweb_pdf("rbm_dunning.action_report_boleto", boleto.ids)
        html = html.decode()
        for text in (
            boleto.typeable_line,
            boleto.our_number,
            "341-7",
            "390.533.447-05",  # payer CPF
            "16.727.230/0001-97",  # beneficiary CNPJ
            "Maria José da Conceição",
            "Rua das Acácias, 100",
            "10/03/2026",
            "150,00",
            "Recibo do Pagador",
            "Pague com Pix",
        ):
            self.assertIn(text, html)
        # printed from the invoice too
        html, _type = Report._render_qweb_pdf(
            "rbm_dunning.action_report_invoice_boleto", invoice.ids
        )
        self.assertIn(boleto.typeable_line, html.decode())

    def test_barcode_is_interleaved_2_of_5_of_the_44_digits(self):
        invoice = self._bill_contract()
        boleto = invoice.rbm_boleto_ids
        self.assertTrue(boleto._get_barcode_image().startswith("data:image/png;base64,"))
        # the same symbol as the image: no check digit added, decodes back
        symbol = I2of5(boleto.barcode, checksum=0, bearers=0, quiet=0, barWidth=3, ratio=3)
        symbol.validate()
        symbol.encode()
        self.assertEqual(_decode_i2of5(symbol.decompose()), boleto.barcode)

    def test_invoice_email_carries_the_boleto(self):
        invoice = self._bill_contract()
        self.env["account.move.send"]._generate_and_send_invoices(
            invoice, sending_methods=["email"]
        )
        self.assertTrue(invoice.rbm_boleto_pdf_id)
        self.assertIn(
            invoice.rbm_boleto_pdf_id,
            self.env["account.move.send"]._get_invoice_extra_attachments(invoice),
        )
        message = invoice.message_ids.filtered(lambda m: m.attachment_ids)[:1]
        self.assertIn(invoice._rbm_boleto_pdf_filename(), message.attachment_ids.mapped("name"))


@tagged("post_install", "-at_install")
class TestCollectionAccount(RbmDunningCase):
    def test_form(self):
        with Form(self.env["rbm.collection.account"]) as form:
            form.name = "Sicoob"
            form.bank_code = "756"
            form.branch = "4327"
            form.account_number = "417270"
            form.agreement = "229385"
            form.partner_bank_id = self.company_bank
            form.journal_id = self.bank_journal
            form.interest_account_id = self.interest_account
            form.fee_account_id = self.fee_account
        account = form.record
        self.assertEqual(
            (account.layout, account.next_our_number, account.next_nsa), ("cnab240", 1, 1)
        )
        codes = account._make_boleto_codes(
            15, date(2026, 3, 1), date(2026, 3, 10), Decimal("1234.56")
        )
        self.assertEqual(
            codes.typeable_line, "75691.43279 01022.938508 00001.500016 6 13810000123456"
        )

    def test_settings_are_validated_with_the_field_named(self):
        cases = [
            ({"branch": "12345"}, "Agency: has 5 digits, at most 4"),
            ({"account_number": "53a78"}, "Account: must contain only digits"),
            # carteira 106 has Itaú's seu-número layout, which needs the client code
            ({"portfolio": "106"}, "Beneficiary Code: is required for Itaú"),
            ({"account_digit": "1"}, "Account Check Digit: Itaú's digit .* is 9, not 1"),
            (
                {"bank_code": "104", "agreement": "123456", "layout": "cnab400"},
                "CNAB Layout: CNAB 400 is not available for bank 104",
            ),
            ({"next_our_number": 100000000}, "Next Our Number: 100000000 exceeds 99999999"),
            ({"pix_key": "not a key"}, "Pix Key: .*is not a Pix key"),
            ({"bank_code": "033", "portfolio": "101"}, "Beneficiary Code: is required"),
        ]
        for vals, message in cases:
            with self.subTest(vals=vals):
                with self.assertRaises(ValidationError) as caught:
                    self._make_collection_account(**vals)
                self.assertRegex(str(caught.exception), message)
        # the Tax ID field itself refuses it; stored anyway by data pushed
        # from outside (Odoo's no_vat_validation), the account refuses it
        with self.assertRaises(ValidationError):
            self.env.company.vat = "11.111.111/1111-11"
        self.env.company.partner_id.with_context(no_vat_validation=True).vat = "11.111.111/1111-11"
        with self.assertRaises(ValidationError) as caught:
            self._make_collection_account()
        self.assertIn("Tax ID of company", str(caught.exception))

    def test_bank_and_layout_locked_once_used(self):
        self._bill_contract()
        with self.assertRaises(UserError) as caught:
            self.account.layout = "cnab400"
        self.assertIn("cannot change", str(caught.exception))
        self.assertEqual(self.account.bank_code, ITAU["bank_code"])

    def test_bradesco_cnab400(self):
        account = self._make_collection_account(
            name="Bradesco 09",
            bank_code="237",
            branch="1172",
            account_number="0403005",
            account_digit="1",
            portfolio="09",
            cnab_agreement="4540691",
            layout="cnab400",
            sequence=1,
        )
        account.sequence = 0  # before Itaú: the company's default account
        invoice = self._bill_contract()
        boleto = invoice.rbm_boleto_ids
        self.assertEqual(boleto.collection_account_id, account)
        self.assertTrue(boleto.our_number.startswith("09/00000000001-"))
        remittance = self.env["rbm.cnab.file"]._generate_remittance(account)
        content = base64.b64decode(remittance.datas)
        parsed = cnab.parse_cnab400(content)
        (detail,) = parsed.of_kind("detail")
        self.assertEqual(detail["our_number"], "00000000001")
        self.assertEqual(detail["our_number_digit"], boleto.our_number[-1])
        self.assertEqual(
            (detail["amount"], detail["due_date"]), (Decimal("150.00"), boleto.due_date)
        )
        self.assertEqual(detail["payer_document"], "00039053344705")
        self.assertEqual(remittance.occurrence_ids.line_number, 2)
