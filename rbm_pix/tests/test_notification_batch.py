import json

from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from odoo.addons.rbm_dunning.tests.common import RbmDunningCase
from odoo.addons.rbm_pix.tests.test_connection import PspCase


@tagged("post_install", "-at_install")
class TestPixNotificationBatch(PspCase, RbmDunningCase, HttpCase):
    """A ``/pix`` notification carrying several payments is settled in one batch: each
    payment once by its end-to-end id, each charge paid once, whatever the order and the
    repetitions inside the notification or across notifications."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._start_psp()
        cls.connection = (
            cls.env["rbm.pix.connection"].sudo().create(cls._connection_values(is_default=True))
        )
        cls.Charge = cls.env["rbm.pix.charge"].sudo()

    def setUp(self):
        super().setUp()
        self.psp.wait_notifications()
        self.psp.webhooks.clear()

    def _active_charge(self):
        invoice = self._bill_contract(payment_mode="pix")
        charge = invoice.rbm_pix_charge_ids
        self.Charge._process_pending()
        self.assertEqual(charge.state, "active", charge.error_message)
        return invoice, charge

    def _post(self, body):
        secret = self.connection.sudo().webhook_secret
        path = f"/rbm/pix/webhook/{self.connection.id}/{secret}/pix"
        with mute_logger("odoo.addons.rbm_pix.controllers.main", "odoo.addons.rbm_pix.models"):
            return self.url_open(
                path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
            )

    def _payments(self, invoices):
        return self.env["account.payment"].search([("invoice_ids", "in", invoices.ids)])

    def _messages(self, invoice, e2e):
        return invoice.message_ids.filtered(lambda m: e2e in (m.body or ""))

    def test_one_notification_many_payments(self):
        (inv_a, charge_a), (inv_b, charge_b), (inv_c, charge_c) = (
            self._active_charge() for _i in range(3)
        )
        e2e_a = self.psp.pay_cobv(charge_a.txid)
        e2e_b = self.psp.pay_cobv(charge_b.txid)
        pix_a, pix_b = self.psp.pix[e2e_a], self.psp.pix[e2e_b]
        # a second payment of charge A under another end-to-end id (same length and form)
        other_e2e = e2e_a[:-1] + ("X" if e2e_a[-1] != "X" else "Y")
        items = [
            pix_a,
            pix_b,
            pix_a,  # the same payment twice in one notification
            {**pix_a, "endToEndId": other_e2e},  # charge A is paid already
            {**pix_b, "txid": charge_c.txid},  # B's payment named on charge C
            {**pix_b, "txid": "RBMVunknownTxid0000000000000"},  # no such charge
        ]
        self.assertEqual(self._post({"pix": items}).status_code, 200)
        self.env.invalidate_all()
        # A and B paid once each, at the amount notified (150.00, the plan's price)
        self.assertEqual((charge_a.state, charge_a.end_to_end_id), ("paid", e2e_a))
        self.assertEqual((charge_b.state, charge_b.end_to_end_id), ("paid", e2e_b))
        self.assertEqual((charge_a.paid_amount, charge_b.paid_amount), (150.0, 150.0))
        self.assertEqual(self._payments(inv_a), charge_a.payment_id)
        self.assertEqual(self._payments(inv_b), charge_b.payment_id)
        self.assertEqual(charge_a.payment_id.amount, 150.0)
        self.assertEqual(charge_a.payment_id.rbm_pix_end_to_end_id, e2e_a)
        self.assertEqual(charge_b.payment_id.rbm_pix_end_to_end_id, e2e_b)
        self.assertEqual(charge_a.payment_id.rbm_pix_connection_id, self.connection)
        self.assertIn(inv_a.payment_state, ("paid", "in_payment"))
        self.assertIn(inv_b.payment_state, ("paid", "in_payment"))
        # C untouched: the payment named on it is B's
        self.assertEqual(charge_c.state, "active")
        self.assertFalse(self._payments(inv_c))
        # one message per payment on its invoice
        self.assertEqual(len(self._messages(inv_a, e2e_a)), 1)
        self.assertEqual(len(self._messages(inv_b, e2e_b)), 1)
        self.assertIn("reconciled with the installment", self._messages(inv_a, e2e_a).body or "")
        self.assertFalse(self._messages(inv_a, other_e2e))

        # the same notification again, then in reverse order: nothing changes
        for body in ({"pix": items}, {"pix": items[::-1]}):
            self.assertEqual(self._post(body).status_code, 200)
        self.env.invalidate_all()
        self.assertEqual(
            self._payments(inv_a | inv_b | inv_c), charge_a.payment_id | charge_b.payment_id
        )
        self.assertEqual(len(self._messages(inv_a, e2e_a)), 1)
        self.assertEqual(charge_c.state, "active")

    def test_a_payment_that_cannot_be_posted_does_not_hold_back_the_others(self):
        """Invoice B lost its collection account: its payment cannot be posted. The
        notification carrying A's and B's payments still applies A's (HTTP 200), keeps
        the refusal on B's charge in words naming the invoice, and applies B's once the
        account is back and the PSP notifies it again."""
        (inv_a, charge_a), (inv_b, charge_b) = (self._active_charge() for _i in range(2))
        account = inv_b.rbm_collection_account_id
        inv_b.sudo().rbm_collection_account_id = False
        e2e_a = self.psp.pay_cobv(charge_a.txid)
        e2e_b = self.psp.pay_cobv(charge_b.txid)
        pix_a, pix_b = self.psp.pix[e2e_a], self.psp.pix[e2e_b]
        self.assertEqual(self._post({"pix": [pix_b, pix_a]}).status_code, 200)
        self.env.invalidate_all()
        self.assertEqual((charge_a.state, charge_a.end_to_end_id), ("paid", e2e_a))
        self.assertEqual(self._payments(inv_a), charge_a.payment_id)
        self.assertEqual(charge_b.state, "active")
        self.assertFalse(charge_b.end_to_end_id)
        self.assertFalse(self._payments(inv_b))
        self.assertIn(inv_b.display_name, charge_b.error_message)
        self.assertIn("collection account", charge_b.error_message)

        inv_b.sudo().rbm_collection_account_id = account
        self.assertEqual(self._post({"pix": [pix_b, pix_a]}).status_code, 200)
        self.env.invalidate_all()
        self.assertEqual((charge_b.state, charge_b.end_to_end_id), ("paid", e2e_b))
        self.assertFalse(charge_b.error_message)
        self.assertEqual(self._payments(inv_b), charge_b.payment_id)
        # A's payment, notified twice, is applied once
        self.assertEqual(len(self._payments(inv_a)), 1)
