import datetime
import json
import os
import shutil
import tempfile
import threading
from datetime import date

from freezegun import freeze_time
from psycopg2 import OperationalError

from odoo import SUPERUSER_ID, Command, api
from odoo.api import Transaction
from odoo.exceptions import AccessError
from odoo.service.model import PG_CONCURRENCY_ERRORS_TO_RETRY
from odoo.tests import HttpCase, TransactionCase, tagged
from odoo.tools import mute_logger

from odoo.addons.rbm_dunning.tests.common import COMPANY_CNPJ, ITAU, RbmDunningCase
from odoo.addons.rbm_dunning.tests.common_card import RbmCardCase
from odoo.addons.rbm_pix.tests.psp_server import make_pki
from odoo.addons.rbm_pix.tests.test_connection import PspCase, _b64
from odoo.addons.rbm_recurring.tests.common import commit_contracts

# January 2027: the 1st is a Friday, the 10th a Sunday (attempt on Monday the 11th)
START = date(2027, 1, 1)


class PixCycleCase(PspCase):
    """A local PSP, a default connection to it, and contracts paid by Pix Automático with
    an approved authorization (created at the PSP and approved by its payer simulator)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._start_psp()
        cls.connection = (
            cls.env["rbm.pix.connection"].sudo().create(cls._connection_values(is_default=True))
        )
        cls.Cycle = cls.env["rbm.pix.cycle.charge"].sudo()

    def setUp(self):
        super().setUp()
        self.psp.wait_notifications()
        self.psp.webhooks.clear()
        self.addCleanup(self.psp.webhooks.clear)
        self.addCleanup(setattr, self.psp, "today", None)

    # ------------------------------------------------------------
    # helpers
    # ------------------------------------------------------------

    def _at(self, day):
        """Odoo and the PSP on ``day``."""
        self.psp.today = day
        frozen = freeze_time(datetime.datetime.combine(day, datetime.time(12)))
        frozen.start()
        if not hasattr(self, "_frozen"):
            self._frozen = []
            self.addCleanup(self._thaw)
        self._frozen.append(frozen)
        return frozen

    def _thaw(self):
        """Odoo back on the real clock (the browser of a tour runs on it)."""
        while getattr(self, "_frozen", None):
            self._frozen.pop().stop()

    def _approved_authorization(
        self, contract, policy="PERMITE_3R_7D", amount_type="fixed", amount=150.0, maximum=None
    ):
        """An approved recurrence at the PSP (POST /rec, approved by the payer) and its
        authorization record."""
        body = {
            "vinculo": {
                "contrato": contract.name[:35],
                "devedor": {"cpf": "39053344705", "nome": self.customer.name},
            },
            "calendario": {"dataInicial": START.isoformat(), "periodicidade": "MENSAL"},
            "politicaRetentativa": policy,
        }
        if amount_type == "fixed":
            body["valor"] = {"valorRec": f"{amount:.2f}"}
        else:
            body["valor"] = {"valorMinimoRecebedor": "50.00"}
        with self.connection._get_client() as client:
            rec = client.post_rec(body)
        self.psp.approve_rec(rec["idRec"], valor_maximo=maximum and f"{maximum:.2f}")
        return (
            self.env["rbm.pix.authorization"]
            .sudo()
            .create(
                {
                    "contract_id": contract.id,
                    "company_id": contract.company_id.id,
                    "partner_id": contract.partner_id.id,
                    "connection_id": self.connection.id,
                    "state": "approved",
                    "id_rec": rec["idRec"],
                    "periodicity": "MENSAL",
                    "amount_type": amount_type,
                    "amount": amount if amount_type == "fixed" else 0.0,
                    "amount_floor": 50.0 if amount_type == "variable" else 0.0,
                    "payer_max_amount": maximum or 0.0,
                    "start_date": START,
                    "retry_policy": policy,
                }
            )
        )

    def _contract(self, fallback="none", **auth):
        self._at(START)
        contract = self.env["rbm.contract"].create(
            {
                "partner_id": self.customer.id,
                "plan_id": self.plan.id,
                "date_start": START,
                "payment_mode": "pix_automatico",
                "rbm_pix_fallback": fallback,
                "due_day": 10,
            }
        )
        contract.action_activate()
        self._approved_authorization(contract, **auth)
        return contract

    def _bill(self, contract, day):
        self._at(day)
        result = self.env["rbm.billing.run"]._bill(contract, day)
        self.assertFalse(result["failed"])
        invoice = result["moves"]
        self.assertEqual(invoice.state, "posted")
        return invoice

    def _listen(self):
        url = self.connection._get_webhook_url(self.base_url())
        self.psp.webhooks[("webhookcobr", None)] = {"webhookUrl": url}

    def _sent_charge(self, contract, day=START, listen=True):
        """Bill ``day`` and send the charge; then the PSP notifies this test's server
        (not while the cron runs in the test's own transaction)."""
        invoice = self._bill(contract, day)
        charge = invoice.rbm_pix_cycle_charge_ids
        self.assertEqual((len(charge), charge.state), (1, "to_send"))
        self.psp.webhooks.clear()
        self.Cycle._process_pending()
        self.assertEqual(charge.state, "active", charge.error_message or charge.reason)
        self.psp.wait_notifications()
        if listen:
            self._listen()
        return invoice, charge

    def _delivered(self):
        deliveries = self.psp.wait_notifications()
        self.assertTrue(deliveries)
        self.assertEqual(deliveries[-1]["status"], 200, deliveries[-1])
        self.env.invalidate_all()
        return deliveries

    def _payments(self, invoice):
        return self.env["account.payment"].search([("invoice_ids", "in", invoice.ids)])


@tagged("post_install", "-at_install")
class TestPixCycleCharge(PixCycleCase, RbmDunningCase, HttpCase):
    """Pix Automático: a charge per cycle sent to the local PSP, settled, retried, cancelled
    and collected by the fallback; notifications on /cobr and the cron's polling."""

    def _post_cobr(self, body, secret=None, connection=None):
        connection = connection or self.connection
        secret = secret if secret is not None else connection.sudo().webhook_secret
        path = f"/rbm/pix/webhook/{connection.id}/{secret}/cobr"
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        with mute_logger("odoo.addons.rbm_pix.controllers.webhook_cobr"):
            return self.url_open(path, data=data, headers={"Content-Type": "application/json"})

    # ------------------------------------------------------------
    # cycles
    # ------------------------------------------------------------

    def test_three_cycles_billed_and_settled(self):
        contract = self._contract()
        # (billing day, due date, attempt day by hand: the 10th, or the next business day)
        cycles = [
            (date(2027, 1, 1), date(2027, 1, 10), date(2027, 1, 11)),  # Sunday -> Monday
            (date(2027, 2, 1), date(2027, 2, 10), date(2027, 2, 10)),  # Wednesday
            (date(2027, 3, 1), date(2027, 3, 10), date(2027, 3, 10)),  # Wednesday
        ]
        charges = self.Cycle
        for index, (day, due, attempt) in enumerate(cycles):
            invoice = self._bill(contract, day)
            charge = invoice.rbm_pix_cycle_charge_ids
            self.assertEqual((charge.amount, charge.due_date), (150.0, due))
            # nothing sent while posting
            self.assertNotIn(charge.txid, self.psp.cobrs)
            self.psp.webhooks.clear()
            self.Cycle._process_pending()
            self.assertEqual(charge.state, "active", charge.error_message or charge.reason)
            self.psp.wait_notifications()
            self._listen()
            cobr = self.psp.cobrs[charge.txid]
            self.assertEqual(cobr["valor"]["original"], "150.00")
            self.assertEqual(cobr["calendario"]["dataDeVencimento"], due.isoformat())
            self.assertIs(cobr["ajusteDiaUtil"], True)
            self.assertEqual(cobr["recebedor"]["conta"], "53678")
            self.assertEqual(cobr["recebedor"]["agencia"], "0810")
            self.assertNotIn("devedor", cobr)
            # read back in the same run: the attempt the PSP scheduled
            self.assertEqual(charge.attempt_date, attempt)
            self._at(attempt)
            if index == 1:
                # the notification is lost: the cron reads the charge back
                self.psp.webhooks.clear()
                e2e = self.psp.pay_cobr(charge.txid)
                self.psp.wait_notifications()
                self.assertEqual(charge.state, "active")
                self.Cycle._process_pending()
                self._listen()
            else:
                e2e = self.psp.pay_cobr(charge.txid)
                self._delivered()
            self.assertEqual((charge.state, charge.end_to_end_id), ("paid", e2e))
            self.assertEqual(charge.paid_amount, 150.0)
            self.assertIn(invoice.payment_state, ("paid", "in_payment"))
            self.assertEqual(self._payments(invoice), charge.payment_id)
            self.assertEqual(charge.payment_id.amount, 150.0)
            self.assertEqual(charge.payment_id.journal_id, self.account.journal_id)
            # the Pix payment can be refunded from the back office
            self.assertEqual(charge.payment_id.rbm_pix_end_to_end_id, e2e)
            self.assertTrue(charge.payment_id._rbm_pix_is_refundable())
            charges |= charge
        self.assertEqual(len(set(charges.mapped("txid"))), 3)
        self.assertEqual(len(charges.payment_id), 3)
        # duplicate notifications and another cron run: nothing more
        self.psp.redeliver()
        self.psp.redeliver(0)
        self._delivered()
        self.Cycle._process_pending()
        self.assertEqual(
            len(self.env["account.payment"].search([("partner_id", "=", self.customer.id)])), 3
        )
        self.assertTrue(all(c.state == "paid" for c in charges))

    def test_one_run_sends_its_charges_over_one_connection(self):
        """Three contracts' charges due at once: the cron sends the three with one client
        (one TLS connection to the PSP, kept alive, one token), each under its own txid."""
        invoices = [self._bill(self._contract(), START) for _i in range(3)]
        charges = self.Cycle.browse([i.rbm_pix_cycle_charge_ids.id for i in invoices])
        self.assertEqual(charges.mapped("state"), ["to_send"] * 3)
        handshakes = self.psp.handshakes
        self.psp.webhooks.clear()
        self.Cycle._process_pending()
        self.assertEqual(charges.mapped("state"), ["active"] * 3, charges.mapped("error_message"))
        self.assertEqual(self.psp.handshakes - handshakes, 1)
        self.assertTrue(all(charge.txid in self.psp.cobrs for charge in charges))
        self.psp.wait_notifications()

    def test_failed_attempt_retried_then_settled(self):
        contract = self._contract()
        invoice, charge = self._sent_charge(contract)
        self._at(date(2027, 1, 11))
        self.psp.fail_cobr_attempt(charge.txid, "AM04", "Saldo insuficiente")
        self._delivered()
        # the notification read the charge back and asked for a new attempt the next day
        self.assertEqual(charge.state, "active")
        self.assertEqual(charge.retry_count, 1)
        self.assertEqual(charge.attempt_date, date(2027, 1, 12))
        attempts = self.psp.cobrs[charge.txid]["tentativas"]
        self.assertEqual([a["tipo"] for a in attempts], ["AGND", "NTAG"])
        self.assertIn("AM04 Saldo insuficiente", "".join(invoice.message_ids.mapped("body")))
        self._at(date(2027, 1, 12))
        e2e = self.psp.pay_cobr(charge.txid)
        self._delivered()
        self.assertEqual((charge.state, charge.end_to_end_id), ("paid", e2e))
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertFalse(invoice.rbm_boleto_ids)

    def test_failed_after_retries_collected_by_boleto(self):
        contract = self._contract(fallback="boleto")
        invoice, charge = self._sent_charge(contract)
        self.assertFalse(invoice.rbm_boleto_ids)
        # first attempt on the 11th, then 3 retries on the 12th, 13th and 14th
        for day in range(11, 15):
            self._at(date(2027, 1, day))
            self.psp.fail_cobr_attempt(charge.txid, "AM04", "Saldo insuficiente")
            self._delivered()
        self.assertEqual(charge.retry_count, 3)
        self.assertEqual(charge.state, "failed", charge.error_message)
        self.assertIn("AM04", charge.reason)
        self.assertEqual(charge.fallback, "boleto")
        boleto = invoice.rbm_boleto_ids
        self.assertEqual(len(boleto), 1)
        self.assertEqual(boleto.amount, 150.0)
        self.assertEqual(boleto.move_line_id, charge.move_line_id)
        self.assertEqual(invoice.payment_state, "not_paid")
        # the installment is not charged again by Pix Automático, even if asked
        self.Cycle._process_pending()
        invoice.action_rbm_issue_pix()
        self.assertEqual(invoice.rbm_pix_cycle_charge_ids, charge)
        self.assertEqual(len(invoice.rbm_boleto_ids), 1)

    def test_no_retry_policy_rejected_goes_to_fallback(self):
        contract = self._contract(fallback="boleto", policy="NAO_PERMITE")
        invoice, charge = self._sent_charge(contract)
        self._at(date(2027, 1, 11))
        self.psp.fail_cobr_attempt(charge.txid, "AM04", "Saldo insuficiente")
        self._delivered()
        self.assertEqual(
            (charge.state, charge.psp_status), ("failed", "REJEITADA"), charge.error_message
        )
        self.assertEqual(charge.retry_count, 0)
        self.assertEqual(len(invoice.rbm_boleto_ids), 1)
        self.assertFalse(
            any(a["tipo"] == "NTAG" for a in self.psp.cobrs[charge.txid]["tentativas"])
        )

    def test_variable_amount_above_payer_maximum_refused(self):
        contract = self._contract(
            fallback="boleto", amount_type="variable", maximum=100.0, amount=0.0
        )
        invoice = self._bill(contract, START)
        charge = invoice.rbm_pix_cycle_charge_ids
        self.assertEqual(charge.state, "failed")
        self.assertIn("R$ 150,00", charge.reason)
        self.assertIn("R$ 100,00", charge.reason)
        self.assertEqual(charge.fallback, "boleto")
        self.assertEqual(len(invoice.rbm_boleto_ids), 1)
        self.Cycle._process_pending()
        self.assertNotIn(charge.txid, self.psp.cobrs)

    def test_retry_answer_lost_not_repeated(self):
        contract = self._contract()
        invoice, charge = self._sent_charge(contract, listen=False)
        self._at(date(2027, 1, 11))
        self.psp.fail_cobr_attempt(charge.txid, "AM04", "Saldo insuficiente")
        # the PSP schedules the new attempt but its answer is lost (POST: not resent)
        self.psp.fail_next("POST", r"/retentativa/", status=503, after=True)
        self.Cycle._process_pending()
        self.assertEqual((charge.state, charge.retry_count), ("active", 0))
        self.assertTrue(charge.error_message)
        attempts = self.psp.cobrs[charge.txid]["tentativas"]
        self.assertEqual([a["tipo"] for a in attempts], ["AGND", "NTAG"])
        # the next run reads the scheduled attempt back: no second request
        charge.polled_at = False
        self.Cycle._process_pending()
        self.assertEqual((charge.state, charge.retry_count), ("active", 1))
        self.assertEqual(charge.attempt_date, date(2027, 1, 12))
        self.assertEqual(len(self.psp.cobrs[charge.txid]["tentativas"]), 2)
        posts = [
            p for m, p in self.psp.requests if m == "POST" and f"{charge.txid}/retentativa" in p
        ]
        self.assertEqual(len(posts), 1)

    def test_window_past_refused_with_the_reason(self):
        contract = self._contract(fallback="boleto")
        contract.date_start = date(2027, 1, 9)
        # billed on the 9th for the 10th: a charge must be sent 2 days before at least
        invoice = self._bill(contract, date(2027, 1, 9))
        charge = invoice.rbm_pix_cycle_charge_ids
        self.assertEqual(charge.due_date, date(2027, 1, 10))
        self.assertEqual(charge.state, "failed")
        self.assertIn("10/01/2027", charge.reason)
        self.assertEqual(charge.fallback, "boleto")
        self.Cycle._process_pending()
        self.assertNotIn(charge.txid, self.psp.cobrs)

    def test_payer_cancels_one_charge(self):
        contract = self._contract(fallback="boleto")
        invoice, charge = self._sent_charge(contract)
        self._at(date(2027, 1, 5))
        self.psp.cancel_cobr_by_payer(charge.txid)
        self._delivered()
        self.assertEqual((charge.state, charge.psp_status), ("cancelled", "CANCELADA"))
        self.assertIn("SLBD", charge.reason)
        self.assertEqual(invoice.payment_state, "not_paid")
        # the installment is still to collect: the contract's fallback
        self.assertEqual(charge.fallback, "boleto")
        self.assertEqual(len(invoice.rbm_boleto_ids), 1)
        # the authorization goes on: next month is charged
        invoice2, charge2 = self._sent_charge(contract, date(2027, 2, 1), listen=False)
        self.assertEqual(charge2.state, "active")

    def test_out_of_order_and_duplicate_notifications(self):
        contract = self._contract()
        invoice, charge = self._sent_charge(contract)
        active = {
            k: v for k, v in self.psp.cobrs[charge.txid].items() if k in ("idRec", "txid", "status")
        }
        self.assertEqual(active["status"], "ATIVA")
        self._at(date(2027, 1, 11))
        self.psp.pay_cobr(charge.txid)
        self._delivered()
        self.assertEqual(charge.state, "paid")
        # the older "ATIVA" notification arrives late, then the "CONCLUIDA" one again
        self.assertEqual(self._post_cobr({"cobsr": [active]}).status_code, 200)
        self.psp.redeliver()
        self._delivered()
        self.assertEqual(charge.state, "paid")
        self.assertEqual(len(self._payments(invoice)), 1)
        # a notification naming an unknown charge, or malformed bodies
        response = self._post_cobr({"cobsr": [{"txid": "X" * 30}]})
        self.assertEqual(response.status_code, 200)
        for body in (b"{", {"cobsr": "x"}, {"cobsr": [{"txid": "bad txid"}]}, [1]):
            self.assertEqual(self._post_cobr(body).status_code, 400, body)
        self.assertEqual(self._post_cobr({"cobsr": []}, secret="wrong").status_code, 401)

    def test_notification_for_another_connection_ignored(self):
        contract = self._contract()
        invoice, charge = self._sent_charge(contract, listen=False)
        other = (
            self.env["rbm.pix.connection"].sudo().create(self._connection_values(name="Other PSP"))
        )
        self._at(date(2027, 1, 11))
        self.psp.pay_cobr(charge.txid)
        body = {"cobsr": [{"txid": charge.txid, "status": "CONCLUIDA"}]}
        # the other connection's secret and address: not this charge's connection
        self.assertEqual(self._post_cobr(body, connection=other).status_code, 200)
        self.env.invalidate_all()
        self.assertEqual(charge.state, "active")
        # the secret of one connection does not open another's address
        secret = other.sudo().webhook_secret
        self.assertEqual(self._post_cobr(body, secret=secret).status_code, 401)
        self.assertEqual(self._post_cobr(body).status_code, 200)
        self.env.invalidate_all()
        self.assertEqual(charge.state, "paid")
        self.assertEqual(len(self._payments(invoice)), 1)

    def test_psp_credentials_refused_keep_the_charge(self):
        contract = self._contract(fallback="boleto")
        invoice = self._bill(contract, START)
        charge = invoice.rbm_pix_cycle_charge_ids
        # an outage, then the PSP refusing our credentials: nothing is lost, no fallback
        self.psp.fail_next("PUT", r"/cobr/", status=503, times=10)
        self.Cycle._process_pending()
        self.assertEqual(charge.state, "to_send")
        self.assertTrue(charge.error_message)
        self.psp.failures.clear()
        self.psp.fail_next("PUT", r"/cobr/", status=403, times=10)
        self.Cycle._process_pending()
        self.assertEqual(charge.state, "to_send")
        self.assertFalse(invoice.rbm_boleto_ids)
        self.psp.failures.clear()
        self.Cycle._process_pending()
        self.assertEqual(charge.state, "active", charge.error_message)

    def test_crash_after_put_before_commit(self):
        contract = self._contract()
        invoice = self._bill(contract, START)
        charge = invoice.rbm_pix_cycle_charge_ids
        before = len(self.psp.cobrs)
        # the PSP creates the charge but its answer is lost: the client sends the same
        # PUT again, the PSP answers that the txid is in use, the charge is read back
        self.psp.fail_next("PUT", r"/cobr/", status=503, after=True)
        self.Cycle._process_pending()
        self.assertEqual(charge.state, "active", charge.error_message)
        self.assertEqual(len(self.psp.cobrs), before + 1)
        puts = [p for m, p in self.psp.requests if m == "PUT" and charge.txid in p]
        self.assertGreaterEqual(len(puts), 2)
        # killed after the PSP answered, before our commit: sent again, same txid
        charge.write({"state": "to_send", "psp_status": False})
        self.Cycle._process_pending()
        self.assertEqual(charge.state, "active", charge.error_message)
        self.assertEqual(len(self.psp.cobrs), before + 1)
        self.assertEqual(len(invoice.rbm_pix_cycle_charge_ids), 1)

    def test_invoice_cancelled_cancels_at_psp(self):
        contract = self._contract()
        invoice, charge = self._sent_charge(contract, listen=False)
        invoice.button_draft()
        invoice.button_cancel()
        self.assertEqual(charge.state, "to_cancel")
        self.Cycle._process_pending()
        self.assertEqual((charge.state, charge.psp_status), ("cancelled", "CANCELADA"))
        self.assertEqual(self.psp.cobrs[charge.txid]["status"], "CANCELADA")

    def test_paid_otherwise_and_ended_authorization(self):
        contract = self._contract()
        invoice, charge = self._sent_charge(contract, listen=False)
        # paid by other means: cancelled at the PSP, no Pix payment
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=invoice.ids
        ).create({"journal_id": self.bank_journal.id})._create_payments()
        self.Cycle._process_pending()
        self.assertEqual(charge.state, "cancelled")
        self.assertEqual(self.psp.cobrs[charge.txid]["status"], "CANCELADA")
        # next month's charge is cancelled when the authorization ends
        invoice2, charge2 = self._sent_charge(contract, date(2027, 2, 1), listen=False)
        contract.rbm_pix_authorization_id.state = "cancelled"
        self.Cycle._process_pending()
        self.assertEqual(charge2.state, "cancelled")
        self.assertEqual(self.psp.cobrs[charge2.txid]["status"], "CANCELADA")
        self.assertEqual(invoice2.rbm_pix_cycle_charge_ids, charge2)

    def test_amount_change_cancels_and_recharges(self):
        contract = self._contract(
            fallback="boleto", amount_type="variable", maximum=500.0, amount=0.0
        )
        invoice, charge = self._sent_charge(contract, listen=False)
        # a partial payment by other means: the charge is replaced by one of what is left
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=invoice.ids
        ).create({"journal_id": self.bank_journal.id, "amount": 50.0})._create_payments()
        self.Cycle._process_pending()
        self.assertEqual(charge.state, "cancelled")
        new = invoice.rbm_pix_cycle_charge_ids - charge
        self.assertEqual((len(new), new.amount), (1, 100.0))
        self.Cycle._process_pending()
        self.assertEqual(new.state, "active")
        self.assertEqual(self.psp.cobrs[new.txid]["valor"]["original"], "100.00")
        # cancelled at our request: no fallback
        self.assertFalse(charge.fallback)
        self.assertFalse(invoice.rbm_boleto_ids)

    def test_tour_read_charge_from_psp(self):
        contract = self._contract()
        invoice, charge = self._sent_charge(contract, listen=False)
        # the payer's bank settles it; the notification never comes
        self.psp.today = date(2027, 1, 11)
        e2e = self.psp.pay_cobr(charge.txid)
        self._thaw()
        self.start_tour(
            f"/odoo/action-rbm_recurring.rbm_contract_action/{contract.id}",
            "rbm_pix_cycle_charge_tour",
            login=self.env.user.login,
        )
        self.env.invalidate_all()
        self.assertEqual((charge.state, charge.end_to_end_id), ("paid", e2e))
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))

    def test_register_notifications(self):
        self.connection.notification_url = "https://erp.example.com/rbm_pix"
        self.admin.company_ids |= self.connection.company_id
        self.connection.with_user(self.admin).action_register_webhook()
        hook = self.psp.webhooks[("webhookcobr", None)]
        self.assertEqual(hook["webhookUrl"], self.connection._get_webhook_url())

    def test_other_company_user_refused(self):
        contract = self._contract()
        invoice, charge = self._sent_charge(contract, listen=False)
        other = self.setup_other_company()["company"]
        user = (
            self.env["res.users"]
            .with_context(no_reset_password=True)
            .create(
                {
                    "name": "Other company accountant",
                    "login": "other_cycle",
                    "password": "other_cycle",
                    "company_id": other.id,
                    "company_ids": [Command.set(other.ids)],
                    "groups_id": [
                        Command.set(
                            [
                                self.env.ref("account.group_account_invoice").id,
                                self.env.ref("rbm_recurring.rbm_recurring_group_manager").id,
                            ]
                        )
                    ],
                }
            )
        )
        self.assertFalse(self.env["rbm.pix.cycle.charge"].with_user(user).search([]))
        with self.assertRaises(AccessError):
            charge.with_user(user).read(["txid"])
        with self.assertRaises(AccessError):
            charge.with_user(user).action_refresh()
        # a portal user calling the model over RPC
        portal = self.env["res.users"].create(
            {
                "name": "Portal",
                "login": "portal_cycle",
                "password": "portal_cycle",
                "groups_id": [Command.set([self.env.ref("base.group_portal").id])],
            }
        )
        with self.assertRaises(AccessError):
            charge.with_user(portal).action_refresh()


@tagged("post_install", "-at_install")
class TestPixCycleChargeCard(PixCycleCase, RbmCardCase):
    """A failed cycle collected by the contract's saved card (demo payment provider)."""

    def test_failed_cycle_collected_by_saved_card(self):
        token = self._make_token(self.customer)
        contract = self._contract(fallback="card", policy="NAO_PERMITE")
        contract.payment_token_id = token
        invoice = self._bill(contract, START)
        charge = invoice.rbm_pix_cycle_charge_ids
        self.Cycle._process_pending()
        self.assertEqual(charge.state, "active", charge.error_message or charge.reason)
        # nothing on the card while Pix Automático collects
        self.assertFalse(invoice.rbm_card_charge_due)
        self.assertEqual(invoice._rbm_get_card_token(), self.env["payment.token"])
        # the attempt is refused; no retry under NAO_PERMITE: the cron reads it back
        self._at(date(2027, 1, 11))
        self.psp.fail_cobr_attempt(charge.txid, "AM04", "Saldo insuficiente")
        self.Cycle._process_pending()
        self.assertEqual((charge.state, charge.fallback), ("failed", "card"))
        self.assertTrue(invoice.rbm_card_charge_due)
        # on the chatter, in the language of the user (pt_BR when it is loaded)
        bodies = "".join(invoice.message_ids.mapped("body"))
        self.assertTrue(
            "saved card will be charged" in bodies or "cartão salvo será cobrado" in bodies,
            bodies,
        )
        self.env["rbm.card.attempt"]._cron_card_retries()
        self.env.invalidate_all()
        attempt = invoice.rbm_card_attempt_ids
        self.assertEqual(len(attempt), 1)
        self.assertEqual(attempt.token_id, token)
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertEqual(invoice.amount_residual, 0.0)


RACE_DAY = date(2027, 1, 1)


@tagged("post_install", "-at_install")
class TestPixCycleChargeRace(TransactionCase):
    """Two billing runs at once, each with its own database connection and transaction
    (committed data, real locks): one cycle charge per installment. Nothing is sent to a
    PSP here: the charges are made when the invoices are posted."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        folder = tempfile.mkdtemp(prefix="rbm-pix-race-")
        cls.addClassCleanup(shutil.rmtree, folder, True)
        cls.pki = make_pki(os.path.join(folder, "psp"), days=365)

    def setUp(self):
        super().setUp()
        self.ids = commit_contracts(self, 4, RACE_DAY, "Pix cycle race")[0]
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            company = env["rbm.contract"].browse(self.ids[0]).company_id
            brl = env.ref("base.BRL")
            brl.active = True
            old_currency = company.currency_id.id
            # Pix charges only invoices in reais
            cr.execute(
                "UPDATE res_company SET currency_id = %s WHERE id = %s", [brl.id, company.id]
            )
            env.invalidate_all()
            old_vat = company.partner_id.vat
            company.partner_id.vat = COMPANY_CNPJ
            bank = env["res.partner.bank"].create(
                {"acc_number": "0810 53678-0 race", "partner_id": company.partner_id.id}
            )
            journal = env["account.journal"].search(
                [("company_id", "=", company.id), ("type", "=", "bank")], limit=1
            )
            income = env["account.account"].search(
                [("company_ids", "in", company.ids), ("account_type", "=", "income")], limit=1
            )
            account = env["rbm.collection.account"].create(
                {
                    "name": "Race account",
                    "company_id": company.id,
                    **ITAU,
                    "partner_bank_id": bank.id,
                    "journal_id": journal.id,
                    "interest_account_id": income.id,
                    "fee_account_id": income.id,
                    "sequence": -100,
                }
            )
            connection = env["rbm.pix.connection"].create(
                {
                    "name": "Race PSP",
                    "company_id": company.id,
                    # a public address, never called in this test
                    "base_url": "https://8.8.8.8/api/v2",
                    "token_url": "https://8.8.8.8/oauth/token",
                    "client_id": "rbm-client",
                    "new_client_secret": "rbm-secret",
                    "pix_key": "cobranca@rbm.example",
                    "certificate_file": _b64(self.pki.client_cert, self.pki.client_key),
                }
            )
            contracts = env["rbm.contract"].browse(self.ids)
            contracts.plan_id.currency_id = brl
            contracts.write(
                {"payment_mode": "pix_automatico", "due_day": 10, "currency_id": brl.id}
            )
            auths = env["rbm.pix.authorization"].create(
                [
                    {
                        "contract_id": contract.id,
                        "company_id": company.id,
                        "partner_id": contract.partner_id.id,
                        "connection_id": connection.id,
                        "state": "approved",
                        "id_rec": f"RR12345678{RACE_DAY:%Y%m%d}RACE{index:07d}",
                        "periodicity": "MENSAL",
                        "amount": 50.0,
                        "start_date": RACE_DAY,
                    }
                    for index, contract in enumerate(contracts)
                ]
            )
            partner_id = company.partner_id.id
            ids = {
                "auths": auths.ids,
                "connection": connection.id,
                "account": account.id,
                "bank": bank.id,
            }

        def cleanup():
            with self.registry.cursor() as cr:
                cr.execute(
                    "DELETE FROM rbm_pix_cycle_charge WHERE contract_id IN %s", [tuple(self.ids)]
                )
                cr.execute(
                    "DELETE FROM rbm_pix_authorization WHERE id IN %s", [tuple(ids["auths"])]
                )
                cr.execute(
                    "UPDATE account_move SET rbm_collection_account_id = NULL "
                    "WHERE rbm_collection_account_id = %s",
                    [ids["account"]],
                )
                cr.execute("DELETE FROM rbm_collection_account WHERE id = %s", [ids["account"]])
                cr.execute("DELETE FROM rbm_pix_connection WHERE id = %s", [ids["connection"]])
                cr.execute("DELETE FROM res_partner_bank WHERE id = %s", [ids["bank"]])
                cr.execute(
                    "UPDATE res_company SET currency_id = %s WHERE id = %s",
                    [old_currency, company.id],
                )
                cr.execute(
                    "UPDATE res_partner SET vat = %s WHERE id = %s", [old_vat or None, partner_id]
                )

        self.addCleanup(cleanup)

    def _race(self, work):
        """``work(env)`` in two threads with their own cursors, started together."""
        barrier = threading.Barrier(2)
        outcomes = []

        def worker():
            try:
                with self.registry.cursor() as cr:
                    cr.transaction = Transaction(self.registry)
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    env["rbm.contract"].browse(self.ids).mapped("state")
                    barrier.wait(timeout=20)
                    outcomes.append(("ok", work(env)))
            except Exception as error:  # noqa: BLE001 - reported by the assertions
                outcomes.append(("error", repr(error)))

        threads = [threading.Thread(target=worker) for _i in range(2)]
        with freeze_time(RACE_DAY), mute_logger("odoo.sql_db"):
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
        self.assertFalse(any(thread.is_alive() for thread in threads), "a worker hung")
        return outcomes

    def _live_charges(self):
        with self.registry.cursor() as cr:
            cr.execute(
                """
                SELECT l.move_id, c.move_line_id, count(*)
                  FROM rbm_pix_cycle_charge c
                  JOIN account_move_line l ON l.id = c.move_line_id
                 WHERE c.contract_id IN %s AND c.state IN ('to_send', 'active', 'to_cancel', 'paid')
                 GROUP BY 1, 2
                """,
                [tuple(self.ids)],
            )
            return cr.fetchall()

    def test_two_billing_runs_one_charge_per_installment(self):
        def bill(env):
            cr = env.cr
            for _try in range(5):
                try:
                    Run = env["rbm.billing.run"]
                    contracts = Run._lock(env["rbm.contract"].browse(self.ids), wait=True)
                    moves = Run._bill(contracts, RACE_DAY)["moves"]
                    cr.flush()
                    return len(moves)
                except OperationalError as error:
                    if error.pgcode not in PG_CONCURRENCY_ERRORS_TO_RETRY:
                        raise
                    cr.rollback()
                    env.invalidate_all()
            raise AssertionError("no try succeeded")

        outcomes = self._race(bill)
        self.assertEqual(sorted(outcomes), [("ok", 0), ("ok", 4)], outcomes)
        rows = self._live_charges()
        self.assertEqual(len(rows), 4, rows)
        self.assertTrue(all(count == 1 for _move, _line, count in rows), rows)

        # the charges end (say, cancelled) and two workers make them again at once: the
        # unique index lets one live charge through per installment, with no error
        with self.registry.cursor() as cr:
            cr.execute(
                "UPDATE rbm_pix_cycle_charge SET state = 'cancelled' WHERE contract_id IN %s",
                [tuple(self.ids)],
            )

        def create(env):
            moves = env["account.move"].search([("rbm_contract_id", "in", self.ids)])
            charges = env["rbm.pix.cycle.charge"]._create_for_moves(moves)
            env.cr.flush()
            return len(charges)

        outcomes = self._race(create)
        self.assertEqual([state for state, _count in outcomes], ["ok", "ok"], outcomes)
        self.assertEqual(sum(count for _state, count in outcomes), 4, outcomes)
        rows = self._live_charges()
        self.assertEqual(len(rows), 4, rows)
        self.assertTrue(all(count == 1 for _move, _line, count in rows), rows)
