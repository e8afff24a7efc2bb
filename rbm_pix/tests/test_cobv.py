import datetime
import json
from decimal import Decimal

import psycopg2

from odoo import Command, fields
from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from odoo.addons.rbm_dunning.engine import pix
from odoo.addons.rbm_dunning.tests.common import RbmDunningCase
from odoo.addons.rbm_pix.models.rbm_pix_charge import REMOVED_STATUS
from odoo.addons.rbm_pix.tests.test_connection import PspCase


@tagged("post_install", "-at_install")
class TestPixCobv(PspCase, RbmDunningCase, HttpCase):
    """Dynamic Pix for invoices: a charge per installment sent to the local PSP, paid by
    the payer simulator and settled by the PSP's notification (or by reading it back)."""

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
        # the PSP lives for the class: no notification of another test reaches this one
        self.psp.wait_notifications()
        self.psp.webhooks.clear()
        self.addCleanup(self.psp.webhooks.clear)

    # ------------------------------------------------------------
    # helpers
    # ------------------------------------------------------------

    def _listen(self):
        """The PSP notifies this test's HTTP server (the route of the connection)."""
        url = self.connection._get_webhook_url(self.base_url())
        self.psp.webhooks[("webhook", self.psp.pix_key)] = {"webhookUrl": url}

    def _active_charge(self):
        invoice = self._bill_contract(payment_mode="pix")
        charge = invoice.rbm_pix_charge_ids
        self.Charge._process_pending()
        self.assertEqual(charge.state, "active", charge.error_message)
        return invoice, charge

    def _post_notification(self, body, path=None, headers=None):
        path = path or f"/rbm/pix/webhook/{self.connection.id}/pix"
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        with mute_logger("odoo.addons.rbm_pix.controllers.main"):
            return self.url_open(
                path, data=data, headers={"Content-Type": "application/json", **(headers or {})}
            )

    def _secret_path(self, secret=None):
        secret = secret or self.connection.sudo().webhook_secret
        return f"/rbm/pix/webhook/{self.connection.id}/{secret}/pix"

    def _payments(self, invoice):
        return self.env["account.payment"].search([("invoice_ids", "in", invoice.ids)])

    # ------------------------------------------------------------
    # tests
    # ------------------------------------------------------------

    def test_charge_sent_paid_and_settled_once(self):
        invoice = self._bill_contract(payment_mode="pix")
        charge = invoice.rbm_pix_charge_ids
        self.assertEqual(len(charge), 1)
        self.assertEqual((charge.state, charge.kind, charge.amount), ("to_send", "cobv", 150.0))
        self.assertTrue(26 <= len(charge.txid) <= 35 and charge.txid.isalnum())
        self.assertEqual((charge.fine_rate, charge.interest_rate), (2.0, 1.0))
        self.assertEqual(charge.validity_days, 30)
        # nothing was sent while posting: the static code is shown meanwhile
        self.assertFalse(self.psp.cobvs)
        self.assertEqual(pix.parse_payload(invoice.rbm_pix_payload).kind, "static")

        self.Charge._process_pending()
        self.assertEqual(charge.state, "active", charge.error_message)
        cobv = self.psp.cobvs[charge.txid]
        self.assertEqual(cobv["valor"]["original"], "150.00")
        self.assertEqual(cobv["valor"]["multa"], {"modalidade": 2, "valorPerc": "2.00"})
        self.assertEqual(cobv["valor"]["juros"], {"modalidade": 3, "valorPerc": "1.00"})
        self.assertEqual(cobv["devedor"], {"cpf": "39053344705", "nome": self.customer.name})
        self.assertEqual(cobv["calendario"]["validadeAposVencimento"], 30)
        self.assertEqual(charge.location, cobv["loc"]["location"])
        self.assertEqual(charge.pix_copy_paste, cobv["pixCopiaECola"])
        self.assertEqual(invoice.rbm_pix_payload, charge.pix_copy_paste)
        self.assertEqual(pix.parse_payload(invoice.rbm_pix_payload).kind, "dynamic")
        # the invoice PDF prints the charge's code
        html, _type = self.env["ir.actions.report"]._render_qweb_html(
            "account.account_invoices", invoice.ids
        )
        self.assertIn(charge.pix_copy_paste, html.decode())

        self._listen()
        e2e = self.psp.pay_cobv(charge.txid)
        deliveries = self.psp.wait_notifications()
        self.assertEqual(deliveries[-1]["status"], 200, deliveries[-1])
        self.env.invalidate_all()
        self.assertEqual((charge.state, charge.end_to_end_id), ("paid", e2e))
        self.assertEqual(charge.paid_amount, 150.0)
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        payment = charge.payment_id
        self.assertEqual(payment.state, "paid")
        self.assertEqual(payment.journal_id, self.account.journal_id)
        self.assertEqual(self._payments(invoice), payment)

        # the same notification again, and the cron reading the charge back: nothing
        self.psp.redeliver()
        deliveries = self.psp.wait_notifications()
        self.assertEqual(deliveries[-1]["status"], 200)
        self.Charge._process_pending()
        self.env.invalidate_all()
        self.assertEqual(self._payments(invoice), payment)
        self.assertEqual(charge.state, "paid")

    def test_lost_response_no_duplicate(self):
        invoice = self._bill_contract(payment_mode="pix")
        charge = invoice.rbm_pix_charge_ids
        before = len(self.psp.cobvs)
        # the PSP creates the charge but its answer is lost: the PUT is sent again
        self.psp.fail_next("PUT", r"/cobv/", status=503, after=True)
        self.Charge._process_pending()
        self.assertEqual(charge.state, "active", charge.error_message)
        self.assertEqual(self.psp.cobvs[charge.txid]["revisao"], 1)
        self.assertEqual(len(self.psp.cobvs), before + 1)
        # a crash after the PSP answered, before our commit: the charge is sent again
        # under the same txid and the PSP answers the same charge
        charge.write({"state": "to_send", "location": False, "pix_copy_paste": False})
        self.Charge._process_pending()
        self.assertEqual(charge.state, "active", charge.error_message)
        self.assertEqual(len(self.psp.cobvs), before + 1)
        self.assertEqual(charge.revision, 2)
        self.assertEqual(charge.pix_copy_paste, self.psp.cobvs[charge.txid]["pixCopiaECola"])
        # paid at the PSP meanwhile: sending again reads it back and settles it
        self.psp.pay_cobv(charge.txid)
        charge.write({"state": "to_send"})
        self.Charge._process_pending()
        self.assertEqual(charge.state, "paid", charge.error_message)
        self.assertEqual(len(self._payments(invoice)), 1)

    def test_invoice_cancelled_removes_charge(self):
        invoice, charge = self._active_charge()
        invoice.button_cancel()
        self.assertEqual(charge.state, "to_cancel")
        # back to the static code until the invoice is posted again
        self.assertEqual(pix.parse_payload(invoice.rbm_pix_payload).kind, "static")
        self.Charge._process_pending()
        self.assertEqual(charge.state, "cancelled", charge.error_message)
        self.assertEqual(self.psp.cobvs[charge.txid]["status"], REMOVED_STATUS)

    def test_reset_and_post_again_new_charge(self):
        invoice, charge = self._active_charge()
        invoice.button_draft()
        self.Charge._process_pending()
        self.assertEqual(charge.state, "cancelled")
        invoice.action_post()
        new = invoice.rbm_pix_charge_ids - charge
        self.assertEqual((len(new), new.state), (1, "to_send"))
        self.Charge._process_pending()
        self.assertEqual(new.state, "active", new.error_message)
        self.assertEqual(invoice.rbm_pix_payload, new.pix_copy_paste)

    def test_paid_otherwise_removes_charge(self):
        invoice, charge = self._active_charge()
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=invoice.ids
        ).create({})._create_payments()
        self.Charge._process_pending()
        self.assertEqual(charge.state, "cancelled", charge.error_message)
        self.assertEqual(self.psp.cobvs[charge.txid]["status"], REMOVED_STATUS)

    def test_installment_changed_patches_charge(self):
        invoice, charge = self._active_charge()
        # a partial payment by other means: the charge asks for what is left
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=invoice.ids
        ).create({"amount": 50.0})._create_payments()
        # and the installment's due date moves
        new_due = fields.Date.today() + datetime.timedelta(days=10)
        charge.move_line_id.date_maturity = new_due
        self.Charge._process_pending()
        self.assertEqual(charge.state, "active", charge.error_message)
        cobv = self.psp.cobvs[charge.txid]
        self.assertEqual(cobv["valor"]["original"], "100.00")
        self.assertEqual(cobv["calendario"]["dataDeVencimento"], new_due.isoformat())
        self.assertEqual((charge.amount, charge.due_date), (100.0, new_due))
        self.assertEqual(charge.revision, cobv["revisao"])
        # nothing changed since: no other call
        calls = len(self.psp.requests)
        self.Charge._process_pending()
        self.assertFalse(
            [r for r in self.psp.requests[calls:] if r[0] == "PATCH"], self.psp.requests[calls:]
        )

    def test_missed_notification_read_back(self):
        invoice, charge = self._active_charge()
        # no webhook registered: the payment is found by the cron
        e2e = self.psp.pay_cobv(charge.txid)
        self.Charge._process_pending()
        self.assertEqual((charge.state, charge.end_to_end_id), ("paid", e2e))
        payment = self._payments(invoice)
        self.assertEqual(len(payment), 1)
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        # the late notification changes nothing
        response = self._post_notification({"pix": [self.psp.pix[e2e]]}, self._secret_path())
        self.assertEqual(response.status_code, 200)
        self.env.invalidate_all()
        self.assertEqual(self._payments(invoice), payment)

    def test_one_live_charge_per_installment(self):
        invoice = self._bill_contract(payment_mode="pix")
        charge = invoice.rbm_pix_charge_ids
        # posting logic asked twice: nothing more
        invoice._rbm_issue_pix(force=True)
        self.assertEqual(invoice.rbm_pix_charge_ids, charge)
        # the database refuses a second live charge, whoever creates it
        with mute_logger("odoo.sql_db"), self.assertRaises(psycopg2.IntegrityError):
            with self.env.cr.savepoint():
                charge.copy({"txid": "RBMV" + "1" * 30})

    def test_no_connection_static_code(self):
        self.connection.active = False
        invoice = self._bill_contract(payment_mode="pix")
        self.assertFalse(invoice.rbm_pix_charge_ids)
        payload = pix.parse_payload(invoice.rbm_pix_payload)
        self.assertEqual(
            (payload.kind, payload.txid, payload.amount),
            ("static", invoice.rbm_pix_txid, Decimal("150.00")),
        )

    def test_notification_refusals(self):
        invoice, charge = self._active_charge()
        e2e = self.psp.pay_cobv(charge.txid)
        body = {"pix": [self.psp.pix[e2e]]}
        # no secret, a wrong one, an unknown connection
        self.assertEqual(self._post_notification(body).status_code, 401)
        self.assertEqual(self._post_notification(body, self._secret_path("wrong")).status_code, 401)
        self.assertEqual(
            self._post_notification(
                body, f"/rbm/pix/webhook/{self.connection.id + 999}/x/pix"
            ).status_code,
            404,
        )
        # malformed bodies
        for bad in (b"not json", {"pix": "x"}, [1], {"pix": [{"txid": charge.txid}]}):
            with self.subTest(body=bad):
                response = self._post_notification(bad, self._secret_path())
                self.assertEqual(response.status_code, 400)
        self.env.invalidate_all()
        self.assertEqual(charge.state, "active")
        self.assertFalse(self._payments(invoice))
        # the secret in the header is accepted too
        response = self._post_notification(
            body, headers={"X-Rbm-Webhook-Secret": self.connection.sudo().webhook_secret}
        )
        self.assertEqual(response.status_code, 200)
        self.env.invalidate_all()
        self.assertEqual((charge.state, charge.end_to_end_id), ("paid", e2e))

    def test_register_webhook(self):
        self.connection.notification_url = "https://erp.example.com.br/"
        self.admin.company_ids = [Command.link(self.env.company.id)]
        connection = self.connection.with_user(self.admin).with_company(self.env.company)
        action = connection.action_register_webhook()
        self.assertEqual(action["params"]["type"], "success", action["params"]["message"])
        hook = self.psp.webhooks[("webhook", self.psp.pix_key)]
        secret = self.connection.sudo().webhook_secret
        self.assertEqual(len(secret), 48)
        self.assertEqual(
            hook["webhookUrl"],
            f"https://erp.example.com.br/rbm/pix/webhook/{self.connection.id}/{secret}",
        )
