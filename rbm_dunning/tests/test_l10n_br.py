import base64
import unittest
from datetime import date
from decimal import Decimal

from freezegun import freeze_time

from odoo import Command
from odoo.tests import Form, tagged

from ..engine import boleto as boleto_engine
from ..engine import cnab, pix
from .common import COMPANY_CNPJ, RbmDunningCase


@tagged("-standard", "rbm_l10n_br", "post_install", "-at_install")
class TestBrazilianLocalization(RbmDunningCase):
    """The collection flow in a company on Odoo's Brazilian localization
    (``l10n_br``, which Odoo installs for Brazilian companies): the ``br``
    chart of accounts, sales journals that number invoices by fiscal document
    type. Run by ``run-tests`` in a second database with ``l10n_br``."""

    chart_template = "br"

    @classmethod
    def _use_chart_template(cls, company, chart_template_ref=None):
        if "br" not in cls.env["account.chart.template"]._get_chart_template_mapping():
            raise unittest.SkipTest("l10n_br is not installed")
        return super()._use_chart_template(company, chart_template_ref)

    def test_boleto_invoice_paid_by_the_cnab_return(self):
        invoice = self._bill_contract()
        # the localization's own rules hold: a fiscal document type, its numbering
        self.assertTrue(invoice.journal_id.l10n_latam_use_documents)
        self.assertTrue(invoice.l10n_latam_document_type_id)
        self.assertEqual(invoice.amount_total, 150.0)
        boleto = invoice.rbm_boleto_ids
        self.assertEqual((boleto.amount, boleto.due_date), (150.0, date(2026, 3, 10)))
        self.assertEqual(len(boleto.barcode), 44)
        self.assertEqual(
            boleto_engine.barcode_from_typeable_line(boleto.typeable_line), boleto.barcode
        )
        html, _type = self.env["ir.actions.report"]._render_qweb_html(
            "rbm_dunning.action_report_boleto", boleto.ids
        )
        self.assertIn(boleto.typeable_line, html.decode())
        self.assertIn("16.727.230/0001-97", html.decode())

        remittance = self.env["rbm.cnab.file"]._generate_remittance(self.account)
        parsed = cnab.parse_cnab240(base64.b64decode(remittance.datas))
        self.assertEqual(len(parsed.of_kind("P")), 1)
        cnab_file, _preview = self._import(
            self._return_240(
                [
                    {
                        "occurrence": "06",
                        "boleto": boleto,
                        "amount_paid": "150.00",
                        "fee": "2.50",
                        "occurrence_date": date(2026, 3, 10),
                        "credit_date": date(2026, 3, 11),
                    }
                ]
            )
        )
        self.assertEqual(boleto.state, "paid")
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertEqual(invoice.amount_residual, 0.0)
        self.assertEqual(cnab_file.fee_move_id.state, "posted")

    def test_customer_with_an_alphanumeric_cnpj_billed_by_boleto(self):
        # entered on the partner form with l10n_br's CNPJ identification type:
        # Odoo's own VAT check (base_vat) applies the rule (rbm_base_vat)
        form = Form(self.env["res.partner"])
        form.name = "Padaria Pão Quente Ltda"
        form.company_type = "company"
        form.country_id = self.env.ref("base.br")
        form.l10n_latam_identification_type_id = self.env.ref("l10n_br.cnpj")
        form.vat = "12abc34501de35"
        customer = form.save()
        self.assertEqual(customer.vat, "12.ABC.345/01DE-35")
        invoice = self._bill_contract(partner=customer)
        boleto = invoice.rbm_boleto_ids
        # another customer whose Tax ID was removed after billing: left out,
        # the remittance still produced for the first
        other = customer.copy({"name": "Oficina Sem Documento", "vat": "16.727.230/0001-97"})
        left_out = self._bill_contract(partner=other).rbm_boleto_ids
        other.vat = False
        remittance = self.env["rbm.cnab.file"]._generate_remittance(self.account)
        self.assertEqual(remittance.occurrence_ids.boleto_id, boleto)
        self.assertEqual(left_out.pending_instruction, "entry")
        self.assertIn("Oficina Sem Documento", left_out.remittance_problem)
        self.assertIn(left_out.display_name, remittance.left_out_note)
        lines = base64.b64decode(remittance.datas).decode("latin-1").split("\r\n")
        q = next(line for line in lines if line[7:8] == "3" and line[13:14] == "Q")
        # segment Q: 18 type 2 (CNPJ), 19-33 the inscription with its letters
        self.assertEqual((q[17], q[18:33]), ("2", "012ABC34501DE35"))
        self._import(
            self._return_240([{"occurrence": "06", "boleto": boleto, "amount_paid": "150.00"}])
        )
        self.assertEqual(boleto.state, "paid")
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))

    def test_pix_invoice_and_direct_debit(self):
        invoice = self._bill_contract(payment_mode="pix")
        self.assertTrue(invoice.l10n_latam_document_type_id)
        payload = pix.parse_payload(invoice.rbm_pix_payload)
        self.assertEqual(
            (payload.key, payload.txid, payload.amount),
            (COMPANY_CNPJ, invoice.rbm_pix_txid, Decimal("150.00")),
        )
        # a Pix on the bank statement settles it
        line = self.env["account.bank.statement.line"].create(
            {
                "journal_id": self.bank_journal.id,
                "date": date(2026, 3, 10),
                "payment_ref": f"PIX RECEBIDO {invoice.rbm_pix_txid}",
                "amount": 150.0,
            }
        )
        line.invalidate_recordset()
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))

        self.account.debit_agreement = "CONV123"
        self.customer.ref = "CLI-0001"
        self._active_mandate()
        debit_invoice = self._bill_contract(start=date(2026, 4, 1), payment_mode="direct_debit")
        self.assertTrue(debit_invoice.l10n_latam_document_type_id)
        with freeze_time("2026-04-02"):
            remittance, skipped = self.env["rbm.debit.file"]._generate_remittance(
                self.account, date(2026, 4, 30)
            )
        self.assertFalse(skipped)
        self.assertEqual(remittance.debit_ids.move_id, debit_invoice)

    def test_collection_steps_and_late_fee_debit_invoice(self):
        self.env["rbm.collection.policy"].create(
            {
                "name": "Régua",
                "is_default": True,
                "date_start": "2026-01-01",
                "late_fee_mode": "debit",
                "step_ids": [Command.create({"day_offset": 1, "action": "email"})],
            }
        )
        invoice = self._bill_contract()
        with freeze_time("2026-03-11"):
            self.env["rbm.collection.run"]._run_all(date(2026, 3, 11))
        log = self.env["rbm.collection.log"].search([("move_id", "=", invoice.id)])
        self.assertEqual((log.step_id.day_offset, log.state), (1, "done"))
        # paid 5 days late: 2% fine + 1% a month for 5 days, on a debit invoice
        # of the same fiscal document kind, without taxes
        with freeze_time("2026-03-15"):
            self.env["account.payment.register"].with_context(
                active_model="account.move", active_ids=invoice.ids
            ).create(
                {"payment_date": date(2026, 3, 15), "journal_id": self.bank_journal.id}
            )._create_payments()
        with freeze_time("2026-03-16"):
            self.env["rbm.collection.run"]._run_all(date(2026, 3, 16))
        fee = invoice.rbm_late_fee_ids
        self.assertEqual((fee.days_late, fee.fine_amount, fee.interest_amount), (5, 3.0, 0.25))
        debit = fee.debit_move_id
        self.assertEqual(debit.state, "posted")
        self.assertEqual(debit.l10n_latam_document_type_id, invoice.l10n_latam_document_type_id)
        self.assertEqual((debit.amount_untaxed, debit.amount_total), (3.25, 3.25))
