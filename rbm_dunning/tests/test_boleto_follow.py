import base64
from datetime import date

from odoo import Command
from odoo.tests import tagged

from ..engine import cnab
from .common import RbmDunningCase


@tagged("post_install", "-at_install")
class TestBoletoFollowsInvoice(RbmDunningCase):
    """A boleto follows its installment: paid by other means, it is written
    off (at the bank too); a new due date or open amount reaches the bank in
    the next remittance."""

    def _sent_boleto(self, start=date(2026, 3, 1), registered=True):
        invoice = self._bill_contract(start=start)
        boleto = invoice.rbm_boleto_ids
        self.env["rbm.cnab.file"]._generate_remittance(self.account)
        self.assertEqual(boleto.state, "in_remessa")
        if registered:
            boleto.state = "registered"
        return invoice, boleto

    def _register_payment(self, invoice, amount=None):
        vals = {"payment_date": date(2026, 3, 8), "journal_id": self.bank_journal.id}
        if amount is not None:
            vals.update(amount=amount, payment_difference_handling="open")
        return (
            self.env["account.payment.register"]
            .with_context(active_model="account.move", active_ids=invoice.ids)
            .create(vals)
            ._create_payments()
        )

    def _remittance_titles(self):
        """(movement, our number, amount, due date) of each title of the next remittance."""
        remittance = self.env["rbm.cnab.file"]._generate_remittance(self.account)
        if not remittance:
            return []
        parsed = cnab.parse_cnab240(base64.b64decode(remittance.datas))
        return [
            (p["movement"], p["our_number"], p["amount"], p["due_date"])
            for p in parsed.of_kind("P")
        ]

    # ------------------------------------------------------------------
    # paid by other means
    # ------------------------------------------------------------------

    def test_manual_payment_writes_the_boleto_off_at_the_bank(self):
        invoice, boleto = self._sent_boleto()
        payment = self._register_payment(invoice)
        self.assertTrue(payment.is_reconciled)
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertEqual((boleto.state, boleto.pending_instruction), ("written_off", "write_off"))
        self.assertFalse(boleto.payment_id)
        self.assertFalse(invoice._rbm_get_boletos_to_print())
        titles = self._remittance_titles()
        self.assertEqual([(t[0], t[1]) for t in titles], [("02", "00000001")])
        self.assertFalse(boleto.pending_instruction)
        self.assertEqual(boleto.state, "written_off")
        # nothing more to send
        self.assertEqual(self._remittance_titles(), [])

    def test_a_boleto_in_a_remittance_is_written_off_too(self):
        invoice, boleto = self._sent_boleto(registered=False)
        self._register_payment(invoice)
        self.assertEqual((boleto.state, boleto.pending_instruction), ("written_off", "write_off"))

    def test_manual_payment_closes_a_boleto_never_sent(self):
        invoice = self._bill_contract()
        boleto = invoice.rbm_boleto_ids
        self.assertEqual((boleto.state, boleto.pending_instruction), ("draft", "entry"))
        self._register_payment(invoice)
        self.assertEqual((boleto.state, boleto.pending_instruction), ("written_off", False))
        # the bank never hears of it
        self.assertEqual(self._remittance_titles(), [])

    def test_credit_note_writes_the_boleto_off(self):
        invoice, boleto = self._sent_boleto()
        reversal = (
            self.env["account.move.reversal"]
            .with_context(active_model="account.move", active_ids=invoice.ids)
            .create({"journal_id": invoice.journal_id.id, "reason": "Cancelamento"})
        )
        reversal.refund_moves()
        credit_note = invoice.reversal_move_ids
        self.assertEqual(credit_note.state, "draft")
        self.assertEqual(boleto.state, "registered")
        # posting the credit note settles the invoice it reverses
        credit_note.action_post()
        self.assertEqual(invoice.payment_state, "reversed")
        self.assertEqual((boleto.state, boleto.pending_instruction), ("written_off", "write_off"))
        self.assertEqual([t[0] for t in self._remittance_titles()], ["02"])

    def test_full_refund_writes_the_boleto_off(self):
        invoice, boleto = self._sent_boleto()
        self.env["account.move.reversal"].with_context(
            active_model="account.move", active_ids=invoice.ids
        ).create({"journal_id": invoice.journal_id.id, "reason": "Estorno"}).modify_moves()
        self.assertEqual((boleto.state, boleto.pending_instruction), ("written_off", "write_off"))

    def test_the_return_file_pays_without_writing_off(self):
        invoice, boleto = self._sent_boleto()
        content = self._return_240(
            [
                {
                    "occurrence": "06",
                    "boleto": boleto,
                    "amount_paid": "150.00",
                    "credit_date": date(2026, 3, 12),
                }
            ]
        )
        self._import(content)
        self.assertEqual((boleto.state, boleto.pending_instruction), ("paid", False))
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertEqual(self._remittance_titles(), [])

    # ------------------------------------------------------------------
    # changed installment
    # ------------------------------------------------------------------

    def test_partial_payment_replaces_the_boleto_with_one_of_the_open_amount(self):
        invoice, boleto = self._sent_boleto()
        self._register_payment(invoice, amount=50.0)
        self.assertEqual(invoice.amount_residual, 100.0)
        self.assertEqual((boleto.state, boleto.pending_instruction), ("written_off", "write_off"))
        new = invoice.rbm_boleto_ids - boleto
        self.assertEqual(len(new), 1)
        self.assertEqual((new.state, new.pending_instruction), ("draft", "entry"))
        self.assertEqual((new.amount, new.due_date), (100.0, boleto.due_date))
        self.assertEqual(new.move_line_id, boleto.move_line_id)
        self.assertNotEqual(new.our_number, boleto.our_number)
        self.assertEqual(invoice._rbm_get_boletos_to_print(), new)
        titles = self._remittance_titles()
        self.assertEqual(
            [(t[0], t[1], float(t[2])) for t in titles],
            [("02", "00000001", 150.0), ("01", "00000002", 100.0)],
        )
        # the rest paid by boleto: the new boleto is paid, nothing else moves
        new.state = "registered"
        content = self._return_240(
            [
                {
                    "occurrence": "06",
                    "boleto": new,
                    "amount_paid": "100.00",
                    "credit_date": date(2026, 3, 12),
                }
            ]
        )
        self._import(content)
        self.assertEqual(new.state, "paid")
        self.assertEqual(invoice.amount_residual, 0.0)
        self.assertEqual(boleto.state, "written_off")

    def test_invoice_due_date_change_reaches_the_bank(self):
        invoice, boleto = self._sent_boleto()
        old_line = boleto.typeable_line
        invoice.invoice_date_due = date(2026, 3, 25)
        self.assertEqual(boleto.move_line_id.date_maturity, date(2026, 3, 25))
        self.assertEqual(boleto.due_date, date(2026, 3, 25))
        self.assertEqual(
            (boleto.state, boleto.pending_instruction), ("registered", "change_due_date")
        )
        self.assertNotEqual(boleto.typeable_line, old_line)
        titles = self._remittance_titles()
        self.assertEqual(
            [(t[0], t[1], t[3]) for t in titles], [("06", "00000001", date(2026, 3, 25))]
        )
        self.assertEqual((boleto.state, boleto.pending_instruction), ("registered", False))

    def test_due_date_change_of_a_boleto_in_a_remittance(self):
        invoice, boleto = self._sent_boleto(registered=False)
        invoice.line_ids.filtered(lambda line: line.display_type == "payment_term").write(
            {"date_maturity": date(2026, 3, 20)}
        )
        self.assertEqual(
            (boleto.state, boleto.due_date, boleto.pending_instruction),
            ("in_remessa", date(2026, 3, 20), "change_due_date"),
        )
        self.assertEqual([t[0] for t in self._remittance_titles()], ["06"])

    def test_due_date_change_of_a_boleto_not_sent_yet(self):
        invoice = self._bill_contract()
        boleto = invoice.rbm_boleto_ids
        invoice.invoice_date_due = date(2026, 3, 18)
        self.assertEqual(
            (boleto.state, boleto.due_date, boleto.pending_instruction),
            ("draft", date(2026, 3, 18), "entry"),
        )
        titles = self._remittance_titles()
        self.assertEqual([(t[0], t[3]) for t in titles], [("01", date(2026, 3, 18))])

    def test_amount_change_writes_off_and_issues_a_new_boleto(self):
        invoice, boleto = self._sent_boleto()
        invoice.button_draft()
        self.assertEqual((boleto.state, boleto.pending_instruction), ("written_off", "write_off"))
        invoice.write(
            {
                "invoice_line_ids": [
                    Command.update(invoice.invoice_line_ids.id, {"price_unit": 180.0})
                ]
            }
        )
        invoice.action_post()
        new = invoice.rbm_boleto_ids.filtered(lambda b: b.state == "draft")
        self.assertEqual((len(new), new.amount), (1, 180.0))
        titles = self._remittance_titles()
        self.assertEqual(
            [(t[0], t[1], float(t[2])) for t in titles],
            [("02", "00000001", 150.0), ("01", "00000002", 180.0)],
        )
