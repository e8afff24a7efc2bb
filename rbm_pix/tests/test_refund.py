import json
import os
import shutil
import tempfile

import psycopg2

from odoo import SUPERUSER_ID, Command, api
from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, HttpCase, tagged
from odoo.tools import mute_logger

from odoo.addons.rbm_dunning.tests.common import RbmDunningCase
from odoo.addons.rbm_pix.tests.psp_server import make_pki
from odoo.addons.rbm_pix.tests.test_connection import NETWORKS_PARAM, PspCase, _b64


class RefundCase(PspCase, RbmDunningCase, HttpCase):
    """An invoice of 150.00 paid by its dynamic Pix charge at the local PSP, and the
    users who may or may not refund it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._start_psp()
        cls.connection = (
            cls.env["rbm.pix.connection"].sudo().create(cls._connection_values(is_default=True))
        )
        cls.Charge = cls.env["rbm.pix.charge"].sudo()
        cls.Refund = cls.env["rbm.pix.refund"].sudo()
        company = cls.env.company
        Users = cls.env["res.users"].with_context(no_reset_password=True)

        def user(login, groups, companies=company):
            return Users.create(
                {
                    "name": login,
                    "login": login,
                    "password": login,
                    "company_id": companies[:1].id,
                    "company_ids": [Command.set(companies.ids)],
                    "groups_id": [Command.set([cls.env.ref(g).id for g in groups])],
                }
            )

        cls.accountant = user("rbm_refund_accountant", ["account.group_account_manager"])
        cls.rbm_manager = user(
            "rbm_refund_rbm_manager",
            ["rbm_recurring.rbm_recurring_group_manager", "account.group_account_invoice"],
        )
        cls.billing_clerk = user("rbm_refund_clerk", ["account.group_account_invoice"])
        other = cls.env["res.company"].create({"name": "Other Company"})
        cls.other_accountant = user(
            "rbm_refund_other", ["account.group_account_manager"], companies=other
        )
        cls.portal_user = user("rbm_refund_portal", ["base.group_portal"])

    def setUp(self):
        super().setUp()
        self.psp.wait_notifications(timeout=60)
        self.psp.webhooks.clear()
        self.addCleanup(self.psp.webhooks.clear)

    # ------------------------------------------------------------
    # helpers
    # ------------------------------------------------------------

    def _listen(self):
        url = self.connection._get_webhook_url(self.base_url())
        self.psp.webhooks[("webhook", self.psp.pix_key)] = {"webhookUrl": url}

    def _paid_invoice(self):
        """An invoice of 150.00 paid by Pix: (invoice, charge, payment)."""
        invoice = self._bill_contract(payment_mode="pix")
        charge = invoice.rbm_pix_charge_ids
        self.Charge._process_pending()
        e2e = self.psp.pay_cobv(charge.txid)
        self.Charge._process_pending()
        self.assertEqual((charge.state, charge.end_to_end_id), ("paid", e2e))
        payment = charge.payment_id
        self.assertEqual(payment.rbm_pix_end_to_end_id, e2e)
        self.assertEqual(invoice.amount_residual, 0.0)
        return invoice, charge, payment

    def _wizard(self, payment, user=None, **values):
        """The *Refund Pix* wizard opened from the payment's button, filled and confirmed."""
        payment = payment.with_user(user or self.accountant)
        action = payment.action_rbm_pix_refund()
        self.assertEqual(action["res_model"], "rbm.pix.refund.wizard")
        form = Form(
            self.env[action["res_model"]]
            .with_user(user or self.accountant)
            .with_context(action["context"])
        )
        for name, value in values.items():
            setattr(form, name, value)
        wizard = form.save()
        result = wizard.action_confirm()
        return self.Refund.browse(result["res_id"])

    def _refunds_at_psp(self, payment):
        return self.psp.pix[payment.rbm_pix_end_to_end_id]["devolucoes"]

    def _settle(self, refund, ok=True, reason="Conta do pagador encerrada"):
        """The PSP settles the refund and notifies Odoo's route."""
        self._listen()
        self.psp.settle_refund(refund.end_to_end_id, refund.name, ok=ok, reason=reason)
        deliveries = self.psp.wait_notifications(timeout=60)
        self.assertEqual(deliveries[-1]["status"], 200, deliveries[-1])
        self.env.invalidate_all()

    @staticmethod
    def _balances(move):
        """``{account code: (debit, credit)}`` of an entry."""
        result = {}
        for line in move.line_ids:
            debit, credit = result.get(line.account_id.code, (0.0, 0.0))
            result[line.account_id.code] = (debit + line.debit, credit + line.credit)
        return result


@tagged("post_install", "-at_install")
class TestPixRefund(RefundCase):
    def test_full_refund_reopens_invoice(self):
        invoice, charge, payment = self._paid_invoice()
        refund = self._wizard(payment, description="Cancelamento do plano")
        # the whole payment by default, nothing sent before the commit
        self.assertEqual((refund.state, refund.amount), ("to_send", 150.0))
        self.assertEqual((refund.charge_id, refund.invoice_id), (charge, invoice))
        self.assertTrue(refund.name.startswith("RBMD") and len(refund.name) == 35)
        self.assertFalse(self._refunds_at_psp(payment))
        self.assertEqual(payment.rbm_pix_refunded_amount, 150.0)

        self.Refund._process_pending()
        self.assertEqual(refund.state, "requested", refund.error_message)
        [sent] = self._refunds_at_psp(payment)
        self.assertEqual(
            (sent["id"], sent["valor"], sent["natureza"], sent["descricao"]),
            (refund.name, "150.00", "ORIGINAL", "Cancelamento do plano"),
        )
        self.assertEqual(refund.rtr_id, sent["rtrId"])
        self.assertFalse(refund.refund_payment_id)

        self._settle(refund)
        self.assertEqual(refund.state, "refunded")
        outbound = refund.refund_payment_id
        self.assertEqual(
            (outbound.payment_type, outbound.amount, outbound.partner_id, outbound.journal_id),
            ("outbound", 150.0, self.customer, payment.journal_id),
        )
        receivable = self.customer.property_account_receivable_id.code
        outstanding = outbound.outstanding_account_id.code
        # the money went back: debit the customer 150.00, credit the bank's outstanding
        self.assertEqual(
            self._balances(outbound.move_id), {receivable: (150.0, 0.0), outstanding: (0.0, 150.0)}
        )
        # the customer owes the invoice again
        self.assertEqual(invoice.amount_residual, 150.0)
        self.assertEqual(invoice.payment_state, "not_paid")
        self.assertTrue(outbound.is_reconciled)
        self.assertFalse(payment.rbm_pix_can_refund)

    def test_partial_refunds_and_overdraw_refused(self):
        invoice, _charge, payment = self._paid_invoice()
        first = self._wizard(payment, amount=40.0)
        self.assertEqual(payment.rbm_pix_refunded_amount, 40.0)
        # 110.01 would exceed the 150.00 paid: refused in words
        with self.assertRaisesRegex(UserError, r"R\$ 110,01.*R\$ 110,00.*R\$ 150,00"):
            self._wizard(payment, amount=110.01)
        second = self._wizard(payment, amount=110.0)
        with self.assertRaisesRegex(UserError, r"R\$ 0,00"):
            self._wizard(payment, amount=0.01)
        # the database refuses an overdraw whoever writes it
        with mute_logger("odoo.sql_db"), self.assertRaises(psycopg2.IntegrityError):
            with self.env.cr.savepoint():
                payment._rbm_pix_add_refunded(0.01)
        self.Refund._process_pending()
        self.assertEqual(len(self._refunds_at_psp(payment)), 2)

        self._settle(first)
        self.assertEqual(first.state, "refunded")
        # 150.00 paid, 40.00 given back: 40.00 due again
        self.assertEqual(invoice.amount_residual, 40.0)
        self.assertEqual(invoice.payment_state, "partial")
        self.assertEqual(first.refund_payment_id.amount, 40.0)
        self._settle(second)
        self.assertEqual(invoice.amount_residual, 150.0)
        self.assertEqual(sum((first | second).refund_payment_id.mapped("amount")), payment.amount)

    def test_credit_note(self):
        invoice, _charge, payment = self._paid_invoice()
        refund = self._wizard(payment, amount=50.0, issue_credit_note=True)
        self.Refund._process_pending()
        self._settle(refund)
        self.assertEqual(refund.state, "refunded")
        credit_note = refund.credit_note_id
        self.assertEqual(
            (credit_note.move_type, credit_note.state, credit_note.amount_total),
            ("out_refund", "posted", 50.0),
        )
        self.assertEqual(credit_note.reversed_entry_id, invoice)
        # the refund pays the credit note; the invoice stays paid
        self.assertEqual(credit_note.amount_residual, 0.0)
        self.assertEqual(invoice.amount_residual, 0.0)
        self.assertTrue(refund.refund_payment_id.is_reconciled)
        income = invoice.invoice_line_ids.account_id.code
        receivable = self.customer.property_account_receivable_id.code
        self.assertEqual(
            self._balances(credit_note), {income: (50.0, 0.0), receivable: (0.0, 50.0)}
        )

    def test_psp_refusals(self):
        invoice, _charge, payment = self._paid_invoice()
        # the payer's account is closed: the PSP does not make the refund
        refund = self._wizard(payment, amount=100.0)
        self.Refund._process_pending()
        self._settle(refund, ok=False, reason="Conta do pagador encerrada")
        self.assertEqual(refund.state, "failed")
        self.assertEqual(refund.failure_reason, "Conta do pagador encerrada")
        self.assertFalse(refund.refund_payment_id)
        self.assertEqual(invoice.amount_residual, 0.0)
        # what failed can be refunded again
        self.assertEqual(payment.rbm_pix_refunded_amount, 0.0)
        self.assertTrue(payment.rbm_pix_can_refund)
        # the PSP refuses the request (refunded elsewhere meanwhile): failed, named
        self.psp.pix[payment.rbm_pix_end_to_end_id]["devolucoes"].append(
            {"id": "OUTSIDE1", "valor": "120.00", "status": "DEVOLVIDO", "horario": {}}
        )
        again = self._wizard(payment, amount=50.0)
        self.Refund._process_pending()
        self.assertEqual(again.state, "failed")
        self.assertIn("devolucao.valor", again.failure_reason)
        self.assertFalse(again.refund_payment_id)
        self.assertEqual(payment.rbm_pix_refunded_amount, 0.0)

    def test_notifications_duplicate_and_out_of_order(self):
        invoice, _charge, payment = self._paid_invoice()
        refund = self._wizard(payment, amount=30.0)
        self.Refund._process_pending()
        self._settle(refund)
        outbound = refund.refund_payment_id
        self.assertEqual(invoice.amount_residual, 30.0)
        # the same notification again: nothing more
        self.psp.redeliver()
        self.assertEqual(self.psp.wait_notifications(timeout=60)[-1]["status"], 200)
        # a late "in processing" after the settlement: nothing changes
        late = dict(self.psp.pix[payment.rbm_pix_end_to_end_id])
        late["devolucoes"] = [dict(late["devolucoes"][0], status="EM_PROCESSAMENTO")]
        response = self.url_open(
            f"/rbm/pix/webhook/{self.connection.id}/pix",
            data=json.dumps({"pix": [late]}).encode(),
            headers={"X-Rbm-Webhook-Secret": self.connection.sudo().webhook_secret},
        )
        self.assertEqual(response.status_code, 200)
        # and the cron reading back: nothing
        self.Refund._process_pending()
        self.env.invalidate_all()
        self.assertEqual(refund.state, "refunded")
        self.assertEqual(
            self.Refund.search([("payment_id", "=", payment.id)]).refund_payment_id, outbound
        )
        self.assertEqual(
            self.env["account.payment"].search_count(
                [("partner_id", "=", self.customer.id), ("payment_type", "=", "outbound")]
            ),
            1,
        )
        self.assertEqual(invoice.amount_residual, 30.0)

    def test_settled_before_our_commit(self):
        """The settlement is notified while the refund is still to send here (its
        request's commit was lost): it is applied, and not sent again."""
        invoice, _charge, payment = self._paid_invoice()
        refund = self._wizard(payment, amount=20.0)
        self.Refund._process_pending()
        refund.write({"state": "to_send"})
        refund.flush_recordset()
        self._settle(refund)
        self.assertEqual(refund.state, "refunded")
        calls = len(self.psp.requests)
        self.Refund._process_pending()
        self.assertFalse([r for r in self.psp.requests[calls:] if "devolucao" in r[1]])
        self.assertEqual(invoice.amount_residual, 20.0)

    def test_crash_after_put(self):
        _invoice, _charge, payment = self._paid_invoice()
        refund = self._wizard(payment, amount=25.0)
        # the PSP makes the request but its answer is lost: sent again, read back
        self.psp.fail_next("PUT", r"/devolucao/", status=503, after=True)
        self.Refund._process_pending()
        self.assertEqual(refund.state, "requested", refund.error_message)
        self.assertEqual(len(self._refunds_at_psp(payment)), 1)
        # a crash after the PSP answered, before our commit: sent again under the
        # same id, the PSP says the id is used, the refund is read back
        refund.write({"state": "to_send", "rtr_id": False})
        self.Refund._process_pending()
        self.assertEqual(refund.state, "requested", refund.error_message)
        [at_psp] = self._refunds_at_psp(payment)
        self.assertEqual((at_psp["id"], refund.rtr_id), (refund.name, at_psp["rtrId"]))
        # the PSP unreachable: kept for the next run, in words
        self.psp.fail_next("GET", r"/devolucao/", status=503, times=10)
        self.Refund._process_pending()
        self.assertEqual(refund.state, "requested")
        self.assertTrue(refund.error_message)
        self.psp.failures.clear()
        # settled without a notification: found by the cron
        self.psp.settle_refund(payment.rbm_pix_end_to_end_id, refund.name)
        self.Refund._process_pending()
        self.assertEqual(refund.state, "refunded")
        self.assertEqual(refund.refund_payment_id.amount, 25.0)

    def test_rights(self):
        _invoice, charge, payment = self._paid_invoice()
        # an RBM manager may refund; from the charge's form too
        action = charge.with_user(self.rbm_manager).action_rbm_pix_refund()
        self.assertEqual(action["context"]["default_payment_id"], payment.id)
        refund = self._wizard(payment, user=self.rbm_manager, amount=10.0)
        self.assertEqual(refund.amount, 10.0)
        # an invoicing clerk may not
        with self.assertRaisesRegex(AccessError, "accounting managers and RBM managers"):
            payment.with_user(self.billing_clerk).action_rbm_pix_refund()
        with self.assertRaises(AccessError):
            self.env["rbm.pix.refund.wizard"].with_user(self.billing_clerk).create(
                {"payment_id": payment.id, "amount": 1.0}
            )
        # another company's accounting manager does not see the payment
        with self.assertRaises(AccessError):
            self._wizard(payment, user=self.other_accountant, amount=1.0)
        self.assertFalse(self.env["rbm.pix.refund"].with_user(self.other_accountant).search([]))
        # a portal user: refused, whatever the route
        with self.assertRaises(AccessError):
            payment.with_user(self.portal_user).action_rbm_pix_refund()
        with self.assertRaises(AccessError):
            self.env["rbm.pix.refund.wizard"].with_user(self.portal_user).create(
                {"payment_id": payment.id, "amount": 1.0}
            )
        self.assertEqual(payment.rbm_pix_refunded_amount, 10.0)

    def test_rpc_portal_refused(self):
        _invoice, _charge, payment = self._paid_invoice()
        self.authenticate("rbm_refund_portal", "rbm_refund_portal")
        with mute_logger("odoo.http"):
            response = self.url_open(
                "/web/dataset/call_button/account.payment/action_rbm_pix_refund",
                data=json.dumps(
                    {
                        "jsonrpc": "2.0",
                        "method": "call",
                        "params": {
                            "model": "account.payment",
                            "method": "action_rbm_pix_refund",
                            "args": [payment.ids],
                            "kwargs": {},
                        },
                    }
                ),
                headers={"Content-Type": "application/json"},
            )
        error = response.json()["error"]
        self.assertEqual(error["data"]["name"], "odoo.exceptions.AccessError")
        self.assertFalse(payment.rbm_pix_refund_ids)

    def test_malformed_amounts_refused(self):
        _invoice, _charge, payment = self._paid_invoice()
        for amount in (0.0, -5.0):
            with self.subTest(amount=amount), self.assertRaisesRegex(UserError, "positive"):
                self._wizard(payment, amount=amount)
        # a payment that is not a Pix payment
        other = self.env["account.payment"].create(
            {
                "payment_type": "inbound",
                "partner_type": "customer",
                "partner_id": self.customer.id,
                "amount": 10.0,
                "journal_id": self.bank_journal.id,
            }
        )
        other.action_post()
        self.assertFalse(other.rbm_pix_can_refund)
        with self.assertRaisesRegex(UserError, "not a Pix payment"):
            self.Refund._create_for_payment(other, 5.0)

    def test_tour(self):
        _invoice, _charge, payment = self._paid_invoice()
        self.accountant.groups_id = [Command.link(self.env.ref("base.group_user").id)]
        self.accountant.lang = "en_US"
        self.start_tour(
            f"/odoo/action-account.action_account_payments/{payment.id}",
            "rbm_pix_refund_tour",
            login="rbm_refund_accountant",
        )
        refund = payment.rbm_pix_refund_ids
        self.assertEqual((refund.amount, refund.state), (35.0, "to_send"))
        self.assertEqual(refund.description, "Desistência")


@tagged("post_install", "-at_install")
class TestPixRefundConcurrency(RbmDunningCase):
    """Two refunds of one payment requested at the same moment by two transactions
    (committed data: this test's own transaction must not lock what they write)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        folder = tempfile.mkdtemp(prefix="rbm-pix-refund-")
        cls.addClassCleanup(shutil.rmtree, folder, True)
        cls.pki = make_pki(os.path.join(folder, "psp"), days=365)

    def test_concurrent_refunds_one_wins(self):
        registry = self.registry
        # a Pix payment of 100.00 committed for the two workers to see
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            params = env["ir.config_parameter"]
            networks = params.get_param(NETWORKS_PARAM)
            params.set_param(NETWORKS_PARAM, "127.0.0.0/8")
            company = env.ref("base.main_company")
            connection = env["rbm.pix.connection"].create(
                {
                    "name": "Concurrency PSP",
                    "company_id": company.id,
                    "base_url": "https://127.0.0.1:9/api/v2",
                    "token_url": "https://127.0.0.1:9/oauth/token",
                    "client_id": "rbm-client",
                    "new_client_secret": "rbm-secret",
                    "pix_key": "cobranca@rbm.example",
                    "certificate_file": _b64(self.pki.client_cert, self.pki.client_key),
                    "ca_bundle": _b64(self.pki.ca_cert),
                }
            )
            journal = env["account.journal"].search(
                [("type", "=", "bank"), ("company_id", "=", company.id)], limit=1
            )
            if not journal:
                self.skipTest("the main company has no bank journal")
            partner = env["res.partner"].create({"name": "Concurrent refund customer"})
            payment = env["account.payment"].create(
                {
                    "payment_type": "inbound",
                    "partner_type": "customer",
                    "partner_id": partner.id,
                    "amount": 100.0,
                    "journal_id": journal.id,
                    "company_id": company.id,
                }
            )
            payment.action_post()
            payment._rbm_pix_mark_received("E8765432120261206" + "A" * 15, connection)
            ids = {
                "payment": payment.id,
                "move": payment.move_id.id,
                "partner": partner.id,
                "connection": connection.id,
            }

        def cleanup():
            with registry.cursor() as cr:
                cr.execute("DELETE FROM rbm_pix_refund WHERE payment_id = %s", [ids["payment"]])
                cr.execute("DELETE FROM account_payment WHERE id = %s", [ids["payment"]])
                cr.execute("DELETE FROM account_move_line WHERE move_id = %s", [ids["move"]])
                cr.execute("DELETE FROM account_move WHERE id = %s", [ids["move"]])
                cr.execute("DELETE FROM rbm_pix_connection WHERE id = %s", [ids["connection"]])
                cr.execute("DELETE FROM res_partner WHERE id = %s", [ids["partner"]])
                env = api.Environment(cr, SUPERUSER_ID, {})
                env["ir.config_parameter"].set_param(NETWORKS_PARAM, networks)

        self.addCleanup(cleanup)
        Refund = "rbm.pix.refund"
        with registry.cursor() as cr_a, registry.cursor() as cr_b:
            env_a = api.Environment(cr_a, SUPERUSER_ID, {})
            env_b = api.Environment(cr_b, SUPERUSER_ID, {})
            # B's transaction starts (its snapshot) before A commits
            cr_b.execute("SELECT 1")
            env_a[Refund]._create_for_payment(env_a["account.payment"].browse(ids["payment"]), 60.0)
            # A holds the payment's row: B waits for it (here, gives up after 200 ms)
            cr_b.execute("SAVEPOINT wait")
            cr_b.execute("SET LOCAL lock_timeout = '200ms'")
            payment_b = env_b["account.payment"].browse(ids["payment"])
            with mute_logger("odoo.sql_db"), self.assertRaises(psycopg2.errors.LockNotAvailable):
                env_b[Refund]._create_for_payment(payment_b, 60.0)
            cr_b.execute("ROLLBACK TO SAVEPOINT wait")
            env_b.invalidate_all()
            cr_a.commit()
            # A committed: B, whose snapshot is older, cannot use the row (Odoo retries
            # the request in a new transaction) ...
            with (
                mute_logger("odoo.sql_db"),
                self.assertRaises(psycopg2.errors.SerializationFailure),
            ):
                env_b[Refund]._create_for_payment(payment_b, 60.0)
            cr_b.rollback()
            env_b.invalidate_all()
            # ... where what A refunded is seen: 60.00 more would exceed 100.00
            with self.assertRaisesRegex(UserError, r"R\$ 40,00"):
                env_b[Refund]._create_for_payment(payment_b, 60.0)
            cr_b.rollback()
        with registry.cursor() as cr:
            cr.execute(
                "SELECT count(*), sum(amount) FROM rbm_pix_refund WHERE payment_id = %s",
                [ids["payment"]],
            )
            self.assertEqual(cr.fetchone(), (1, 60.0))
            cr.execute(
                "SELECT rbm_pix_refunded_amount FROM account_payment WHERE id = %s",
                [ids["payment"]],
            )
            self.assertEqual(cr.fetchone()[0], 60.0)
