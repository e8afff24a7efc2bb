from datetime import date
from decimal import Decimal

from psycopg2 import IntegrityError

from odoo.exceptions import UserError, ValidationError
from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from ..engine import pix
from .common import COMPANY_CNPJ, RbmDunningCase

E2E = "E18236120202603101200s0123456789"
E2E_OTHER = "E00000000202603101201AAAAAAAAAAA"


@tagged("post_install", "-at_install")
class TestPixReconciliation(RbmDunningCase):
    """Pix received on bank statement lines, matched by txid or end-to-end id."""

    def setUp(self):
        super().setUp()
        self.invoice = self._bill_contract(payment_mode="pix")
        self.txid = self.invoice.rbm_pix_txid

    def _line(self, amount, payment_ref, **vals):
        return self.env["account.bank.statement.line"].create(
            {
                "journal_id": self.bank_journal.id,
                "date": date(2026, 3, 10),
                "payment_ref": payment_ref,
                "amount": amount,
                **vals,
            }
        )

    def _notes(self, move, text):
        return move.message_ids.filtered(lambda m: text in (m.body or ""))

    def test_invoice_pix_code(self):
        invoice = self.invoice
        self.assertEqual(len(self.txid), 25)
        self.assertTrue(self.txid.startswith("RBM") and self.txid.isalnum())
        self.assertFalse(invoice.rbm_boleto_ids)
        payload = pix.parse_payload(invoice.rbm_pix_payload)
        self.assertEqual(
            (payload.kind, payload.key, payload.txid, payload.amount),
            ("static", COMPANY_CNPJ, self.txid, Decimal("150.00")),
        )
        # every invoice has its own txid
        other = self._bill_contract(start=date(2026, 4, 1), payment_mode="pix")
        self.assertNotEqual(other.rbm_pix_txid, self.txid)
        # the invoice PDF prints the code
        html, _type = self.env["ir.actions.report"]._render_qweb_html(
            "account.account_invoices", invoice.ids
        )
        self.assertIn(invoice.rbm_pix_payload, html.decode())
        self.assertIn("rbm_pix_qr", html.decode())
        # a boleto invoice gets no invoice Pix code (its boleto carries one)
        boleto_invoice = self._bill_contract(start=date(2026, 5, 1))
        self.assertFalse(boleto_invoice.rbm_pix_txid)
        self.assertTrue(boleto_invoice.rbm_boleto_ids.pix_txid)
        # with Odoo's invoice QR codes on (Invoicing settings), Pix and boleto
        # invoices print only their own code; others keep Odoo's
        self.env.company.qr_code = True
        transfer_invoice = self._bill_contract(start=date(2026, 6, 1), payment_mode="invoice")
        (invoice | boleto_invoice | transfer_invoice).invalidate_recordset(["display_qr_code"])
        self.assertEqual(
            (invoice | boleto_invoice | transfer_invoice).mapped("display_qr_code"),
            [False, False, True],
        )

    def test_no_pix_key_explained(self):
        """Without a collection account holding a Pix key, posting a Pix
        invoice notes why no code was issued, and the button says what to
        configure (no traceback); once a key is set, the button issues it."""
        self.account.pix_key = False
        invoice = self._bill_contract(start=date(2026, 4, 1), payment_mode="pix")
        self.assertFalse(invoice.rbm_pix_payload)
        self.assertTrue(self._notes(invoice, "has no collection account with a Pix key"))
        with self.assertRaisesRegex(UserError, "Collection Accounts \\(field Pix Key\\)") as caught:
            invoice.action_rbm_issue_pix()
        self.assertIn(invoice.name, str(caught.exception))
        self.assertFalse(invoice.rbm_pix_payload)
        # and with no collection account at all
        self.account.active = False
        with self.assertRaisesRegex(UserError, "has no collection account with a Pix key"):
            invoice.action_rbm_issue_pix()
        self.account.write({"active": True, "pix_key": COMPANY_CNPJ})
        invoice.action_rbm_issue_pix()
        self.assertEqual(pix.parse_payload(invoice.rbm_pix_payload).key, COMPANY_CNPJ)
        self.assertEqual(invoice.rbm_collection_account_id, self.account)

    def test_exact_match_by_txid(self):
        line = self._line(150.0, f"PIX RECEBIDO - MARIA JOSE - TXID {self.txid}")
        self.assertTrue(line.is_reconciled)
        self.assertEqual(
            (line.rbm_pix_state, line.rbm_pix_txid, line.rbm_pix_move_id),
            ("matched", self.txid, self.invoice),
        )
        self.assertEqual(line.partner_id, self.customer)
        self.assertEqual(self.invoice.payment_state, "paid")
        self.assertEqual(self.invoice.amount_residual, 0.0)
        self.assertEqual(len(self._notes(self.invoice, "reconciled with")), 1)

    def test_end_to_end_match(self):
        # the statement only has the end-to-end id; the PSP's notice maps it later
        line = self._line(150.0, f"PIX RECEBIDO {E2E}")
        self.assertEqual(line.rbm_pix_state, "unknown")
        self.assertFalse(line.is_reconciled)
        receipts = self.env["rbm.pix.receipt"]._record_notifications(
            [{"end_to_end_id": E2E, "txid": self.txid, "amount": 150.0}]
        )
        self.assertTrue(line.is_reconciled)
        self.assertEqual(
            (line.rbm_pix_state, line.rbm_pix_end_to_end_id, line.rbm_pix_move_id),
            ("matched", E2E, self.invoice),
        )
        self.assertEqual(receipts.statement_line_id, line)
        self.assertEqual(self.invoice.payment_state, "paid")
        # a notice seen twice is recorded once
        self.assertFalse(
            self.env["rbm.pix.receipt"]._record_notifications(
                [{"end_to_end_id": E2E, "txid": self.txid}]
            )
        )
        with self.assertRaisesRegex(ValidationError, "End-to-End ID"):
            self.env["rbm.pix.receipt"].create({"end_to_end_id": "E123", "txid": self.txid})
        # a mapping known beforehand matches at once
        other = self._bill_contract(start=date(2026, 4, 1), payment_mode="pix")
        self.env["rbm.pix.receipt"]._record_notifications(
            [{"end_to_end_id": E2E_OTHER, "txid": other.rbm_pix_txid}]
        )
        line_other = self._line(150.0, "PIX", narration=f"<p>endToEndId {E2E_OTHER}</p>")
        self.assertEqual(line_other.rbm_pix_state, "matched")
        self.assertEqual(other.payment_state, "paid")

    def test_wrong_amount(self):
        line = self._line(140.0, f"PIX {self.txid}")
        self.assertFalse(line.is_reconciled)
        self.assertEqual(line.rbm_pix_state, "amount_mismatch")
        self.assertEqual(self.invoice.payment_state, "not_paid")
        notes = self._notes(self.invoice, "the amounts differ")
        self.assertEqual(len(notes), 1)
        self.assertIn("140.00", notes.body)
        self.assertIn("150.00", notes.body)
        # trying again explains once
        self.env.ref("rbm_dunning.ir_cron_rbm_match_pix").method_direct_trigger()
        line.action_rbm_match_pix()
        self.assertEqual(len(self._notes(self.invoice, "the amounts differ")), 1)
        self.assertFalse(line.is_reconciled)

    def test_unknown_txid(self):
        unknown = self._line(150.0, "PIX RECEBIDO RBMZZZZZZZZZZZZZZZZZZZZZZ")
        other = self._line(150.0, "TED RECEBIDA 341 0810")
        self.assertEqual(unknown.rbm_pix_state, "unknown")
        self.assertFalse(other.rbm_pix_state)
        self.assertFalse(unknown.is_reconciled or other.is_reconciled)
        self.assertEqual(self.invoice.payment_state, "not_paid")

    def test_duplicate(self):
        first = self._line(150.0, f"PIX {self.txid}")
        second = self._line(150.0, f"PIX {self.txid}")
        self.assertTrue(first.is_reconciled)
        self.assertFalse(second.is_reconciled)
        self.assertEqual(second.rbm_pix_state, "already_paid")
        self.assertIn("already paid", second.rbm_pix_message)
        self.assertEqual(len(self._notes(self.invoice, "already paid")), 1)
        # matching again changes nothing
        (first | second).action_rbm_match_pix()
        self.env.ref("rbm_dunning.ir_cron_rbm_match_pix").method_direct_trigger()
        self.assertFalse(second.is_reconciled)
        self.assertEqual(self.invoice.amount_residual, 0.0)
        self.assertEqual(len(self.invoice._get_reconciled_statement_lines()), 1)
        # the database refuses a second line reconciled with the same txid
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError), self.cr.savepoint():
            second.write({"rbm_pix_state": "matched"})
            second.flush_recordset()

    def test_boleto_hybrid_txid(self):
        invoice = self._bill_contract(start=date(2026, 4, 1))
        boleto = invoice.rbm_boleto_ids
        self.assertEqual(pix.parse_payload(boleto.pix_payload).txid, boleto.pix_txid)
        line = self._line(150.0, f"PIX QR {boleto.pix_txid}")
        self.assertEqual((line.rbm_pix_state, line.rbm_pix_move_id), ("matched", invoice))
        self.assertEqual(invoice.payment_state, "paid")
        # paid: the boleto is closed, and the bank told to write it off once it holds it
        self.assertEqual((boleto.state, boleto.pending_instruction), ("paid", False))
        other = self._bill_contract(start=date(2026, 5, 1)).rbm_boleto_ids
        other.write({"state": "registered", "pending_instruction": False})
        self._line(150.0, f"PIX QR {other.pix_txid}")
        self.assertEqual((other.state, other.pending_instruction), ("paid", "write_off"))


@tagged("post_install", "-at_install")
class TestPixPortal(RbmDunningCase, HttpCase):
    def test_invoice_page_shows_pix(self):
        invoice = self._bill_contract(payment_mode="pix")
        page = self.url_open(invoice.get_portal_url()).text
        self.assertIn('id="rbm_pix"', page)
        self.assertIn(invoice.rbm_pix_payload, page)
        self.assertIn(f'data-copy="{invoice.rbm_pix_payload}"', page)
        self.assertIn(invoice.rbm_pix_txid, page)
        # another customer's invoice (wrong token) shows nothing of it
        response = self.url_open(f"/my/invoices/{invoice.id}?access_token=wrong")
        self.assertNotIn(invoice.rbm_pix_payload, response.text)
