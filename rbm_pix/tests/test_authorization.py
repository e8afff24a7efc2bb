import json
import threading

import psycopg2

from odoo import SUPERUSER_ID, Command, api, fields
from odoo.api import Transaction
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import Form, HttpCase, JsonRpcException, TransactionCase, tagged
from odoo.tools import mute_logger

from odoo.addons.rbm_dunning.engine import pix
from odoo.addons.rbm_dunning.tests.common import RbmDunningCase
from odoo.addons.rbm_pix.tests.test_connection import PspCase
from odoo.addons.rbm_recurring.tests.common import commit_contracts


class PixAuthorizationCase(PspCase, RbmDunningCase, HttpCase):
    """Contracts authorizing Pix Automático at the local PSP (mutual TLS, OAuth2, the
    payer simulator and its notifications back to this Odoo)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # the assertions read the English source of the messages
        cls.env.user.lang = "en_US"
        cls.env = cls.env(context=dict(cls.env.context, lang="en_US"))
        cls._start_psp()
        cls.connection = (
            cls.env["rbm.pix.connection"]
            .sudo()
            .create(cls._connection_values(is_default=True, retry_policy="PERMITE_3R_7D"))
        )
        cls.Auth = cls.env["rbm.pix.authorization"].sudo()
        cls.endpoint = cls.env["rbm.provisioning.endpoint"].create(
            {
                "name": "Provisioning",
                "url": "https://provisioning.example.com/hook",
                "secret": "s3cr3t",
            }
        )
        cls.today = fields.Date.context_today(cls.env["rbm.contract"])

    def setUp(self):
        super().setUp()
        # the PSP lives for the class: no notification of another test reaches this one
        self.psp.wait_notifications()
        self.psp.webhooks.clear()
        self.addCleanup(self.psp.webhooks.clear)
        self.seen = len(self.psp.deliveries)

    # ------------------------------------------------------------
    # helpers
    # ------------------------------------------------------------

    def _listen(self):
        """The PSP notifies this test's HTTP server (the route of the connection)."""
        url = self.connection._get_webhook_url(self.base_url())
        self.psp.webhooks[("webhookrec", None)] = {"webhookUrl": url}
        self.psp.webhooks[("webhook", self.psp.pix_key)] = {"webhookUrl": url}

    def _contract(self, partner=None, plan=None, payment_mode="boleto"):
        contract = self.env["rbm.contract"].create(
            {
                "partner_id": (partner or self.customer).id,
                "plan_id": (plan or self.plan).id,
                "date_start": self.today,
                "payment_mode": payment_mode,
                "due_day": 10,
            }
        )
        contract.action_activate()
        return contract

    def _authorize(self, contract, journey="2", **payer):
        """The back-office wizard, as the user fills it."""
        action = contract.action_rbm_pix_authorize()
        wizard_form = Form(self.env[action["res_model"]].with_context(**action["context"]))
        wizard_form.journey = journey
        for name, value in payer.items():
            setattr(wizard_form, name, value)
        wizard_form.save().action_confirm()
        return contract.rbm_pix_authorization_id

    def _sent(self, contract, journey="2", **payer):
        auth = self._authorize(contract, journey, **payer)
        self.Auth._process_pending()
        self.assertEqual(auth.state, "created", auth.error_message)
        return auth

    def _notify_wait(self):
        deliveries = self.psp.wait_notifications()[self.seen :]
        self.seen += len(deliveries)
        for delivery in deliveries:
            self.assertEqual(delivery["status"], 200, delivery)
        self.env.invalidate_all()
        return deliveries

    def _said(self, contract, text):
        return contract.message_ids.filtered(lambda m: text in (m.body or ""))

    def _recs_of(self, contract):
        return [r for r in self.psp.recs.values() if r["vinculo"]["contrato"] == contract.name]

    def _events(self, contract):
        return (
            self.env["rbm.provisioning.event"]
            .sudo()
            .search([("contract_id", "=", contract.id)])
            .mapped("event_type")
        )

    def _post(self, body, secret=None):
        secret = secret if secret is not None else self.connection.sudo().webhook_secret
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        with mute_logger("odoo.addons.rbm_pix.controllers.main"):
            return self.url_open(
                f"/rbm/pix/webhook/{self.connection.id}/{secret}/rec",
                data=data,
                headers={"Content-Type": "application/json"},
            )


@tagged("post_install", "-at_install")
class TestPixAuthorization(PixAuthorizationCase):
    def test_journey_2_approved(self):
        contract = self._contract()
        auth = self._authorize(contract, "2")
        # nothing is sent inside the user's transaction
        self.assertEqual(auth.state, "to_send")
        self.assertFalse(self._recs_of(contract))
        self.assertEqual(
            (auth.periodicity, auth.amount_type, auth.amount, auth.retry_policy),
            ("MENSAL", "fixed", 150.0, "PERMITE_3R_7D"),
        )
        self.assertEqual(auth.start_date, contract.next_invoice_date)

        self.Auth._process_pending()
        self.assertEqual(auth.state, "created", auth.error_message)
        rec = self.psp.recs[auth.id_rec]
        # worked out from the contract: R150,00 a month, the customer's CPF, retries allowed
        self.assertEqual(rec["valor"], {"valorRec": "150.00"})
        self.assertEqual(rec["calendario"]["periodicidade"], "MENSAL")
        self.assertEqual(rec["calendario"]["dataInicial"], self.today.isoformat())
        self.assertEqual(
            rec["vinculo"]["devedor"], {"cpf": "39053344705", "nome": self.customer.name}
        )
        self.assertEqual(rec["vinculo"]["contrato"], contract.name)
        self.assertEqual(rec["politicaRetentativa"], "PERMITE_3R_7D")
        self.assertEqual(auth.id_rec[:2], "RR")
        self.assertEqual(rec["loc"]["id"], auth.loc_id)
        # journey 2: the QR carries the recurrence only (field 80)
        code = pix.parse_payload(auth.pix_copy_paste)
        self.assertEqual(code.kind, "recurrence")
        self.assertEqual(code.recurrence_location, rec["loc"]["location"])
        self.assertEqual(contract.rbm_pix_copy_paste, auth.pix_copy_paste)

        self._listen()
        self.psp.approve_rec(auth.id_rec)
        self._notify_wait()
        self.assertEqual(auth.state, "approved")
        self.assertTrue(auth.approved_on)
        self.assertEqual(auth.payer_bank_name, "87654321")
        self.assertEqual(contract.payment_mode, "pix_automatico")
        self.assertEqual(auth.previous_payment_mode, "boleto")
        self.assertEqual(contract.rbm_pix_authorization_state, "approved")
        # created, then approved
        self.assertEqual(len(self._said(contract, auth.id_rec)), 2)
        self.assertEqual(
            self._events(contract).count("pix_authorization_approved"), 1, self._events(contract)
        )
        self.assertIn("pix_authorization_created", self._events(contract))
        # a second authorization of a contract with a live one is refused in words
        with self.assertRaisesRegex(UserError, contract.name):
            self._authorize(contract, "2")

    def test_journey_1_request_to_payer_bank(self):
        contract = self._contract()
        with self.assertRaisesRegex(ValidationError, "ISPB"), self.cr.savepoint():
            self._authorize(contract, "1", payer_ispb="123", payer_account="9988776")
        auth = self._sent(
            contract, "1", payer_ispb="60701190", payer_branch="0001", payer_account="99887-6"
        )
        solic = self.psp.solicrecs[auth.id_solic_rec]
        self.assertEqual(solic["idRec"], auth.id_rec)
        self.assertEqual(
            solic["destinatario"],
            {
                "conta": "998876",
                "ispbParticipante": "60701190",
                "agencia": "0001",
                "cpf": "39053344705",
            },
        )
        self.assertFalse(auth.pix_copy_paste)
        # killed after the request was sent, before our commit: sent again, refused by the
        # PSP as already active, and the recurrence is followed as before
        id_solic_rec = auth.id_solic_rec
        auth.write({"state": "to_send", "id_rec": False, "id_solic_rec": False})
        self.Auth._process_pending()
        self.assertEqual(auth.state, "created", auth.error_message)
        requests = [s for s in self.psp.solicrecs.values() if s["idRec"] == auth.id_rec]
        self.assertEqual(len(requests), 1)
        auth.id_solic_rec = id_solic_rec
        self._listen()
        self.psp.accept_solicrec(auth.id_solic_rec)
        self._notify_wait()
        self.assertEqual(auth.state, "approved")
        self.assertEqual(auth.payer_bank_name, "60701190")
        self.assertEqual(contract.payment_mode, "pix_automatico")

    def test_journey_3_first_payment_now(self):
        # paid by plain invoice: no boleto híbrido, so no due-date charge on it yet
        invoice = self._bill_contract(start=self.today, payment_mode="invoice")
        contract = invoice.rbm_contract_id
        auth = self._sent(contract, "3")
        charge = auth.charge_id
        self.assertEqual((charge.kind, charge.state, charge.move_id), ("cob", "active", invoice))
        self.assertEqual(auth.first_amount, 150.0)
        rec = self.psp.recs[auth.id_rec]
        self.assertEqual(rec["ativacao"]["tipoJornada"], "JORNADA_3")
        code = pix.parse_payload(auth.pix_copy_paste)
        self.assertEqual(code.kind, "composite")
        self.assertEqual(code.location, self.psp.cobs[charge.txid]["location"])
        self.assertEqual(code.recurrence_location, rec["loc"]["location"])
        # the recurrence starts with the next period: the open invoice is paid now
        self.assertEqual(auth.start_date, contract.next_invoice_date)
        self.assertGreater(auth.start_date, self.today)
        self._listen()
        self.psp.pay_cob(charge.txid)
        self._notify_wait()
        self.assertEqual(auth.state, "approved")
        self.assertEqual(charge.state, "paid")
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        # posted on the collection account's journal, though the invoice had none
        self.assertEqual(charge.payment_id.journal_id, self.account.journal_id)

    def test_journey_4_due_date_charge(self):
        invoice = self._bill_contract(start=self.today, payment_mode="pix")
        contract = invoice.rbm_contract_id
        charge = invoice.rbm_pix_charge_ids
        self.assertEqual(charge.kind, "cobv")
        # the invoice's own due-date charge offers the adherence
        with self.assertRaisesRegex(UserError, "journey 4"):
            self._authorize(contract, "3")
        auth = self._sent(contract, "4")
        self.assertEqual(auth.charge_id, charge)
        self.assertEqual(self.psp.recs[auth.id_rec]["ativacao"]["tipoJornada"], "JORNADA_4")
        code = pix.parse_payload(auth.pix_copy_paste)
        self.assertEqual(code.kind, "composite")
        self.assertEqual(code.location, self.psp.cobvs[charge.txid]["loc"]["location"])
        self._listen()
        self.psp.pay_cobv(charge.txid)
        self._notify_wait()
        self.assertEqual(auth.state, "approved")
        self.assertEqual(contract.payment_mode, "pix_automatico")

    def test_journey_3_first_charge_refused(self):
        invoice = self._bill_contract(start=self.today, payment_mode="invoice")
        contract = invoice.rbm_contract_id
        auth = self._authorize(contract, "3")
        self.psp.fail_next("PUT", r"/cob/", status=400)
        self.Auth._process_pending()
        self.assertEqual(auth.state, "failed")
        self.assertIn(self.connection.name, auth.error_message)
        self.assertFalse(self._recs_of(contract))
        self.assertTrue(self._said(contract, "refused by the PSP"))

    def test_contract_not_running_refused(self):
        contract = self._contract()
        contract.action_close()
        with self.assertRaisesRegex(UserError, f"{contract.name} is not running"):
            self._authorize(contract)

    def test_usage_plan_variable_amount(self):
        if "rbm.metric" not in self.env:
            self.skipTest("rbm_metering is not installed")
        metric = self.env["rbm.metric"].create(
            {"code": "pix_gb", "name": "Armazenamento", "unit_label": "GB"}
        )
        usage_product = self.env["product.product"].create(
            {"name": "Armazenamento", "type": "service", "taxes_id": [Command.clear()]}
        )
        plan = self.plan.copy({"name": "Mensal com uso"})
        plan.line_ids = [
            Command.create(
                {
                    "product_id": usage_product.id,
                    "name": "Armazenamento",
                    "metric_id": metric.id,
                    "price_unit": 0.5,
                }
            )
        ]
        contract = self._contract(plan=plan)
        self.assertIn("usage", contract.line_ids.mapped("line_type"))
        auth = self._sent(contract)
        # variable: the payer sets a maximum of at least the fixed 150.00 of every cycle
        self.assertEqual((auth.amount_type, auth.amount_floor), ("variable", 150.0))
        self.assertEqual(self.psp.recs[auth.id_rec]["valor"], {"valorMinimoRecebedor": "150.00"})
        with self.assertRaises(ValueError):
            self.psp.approve_rec(auth.id_rec, valor_maximo="149.99")
        self.psp.approve_rec(auth.id_rec, valor_maximo="300.00")
        self.Auth._process_pending()
        self.assertEqual(auth.state, "approved")

    def test_journey_3_without_open_invoice_refused(self):
        contract = self._contract()
        with self.assertRaisesRegex(UserError, "no open invoice"):
            self._authorize(contract, "3")

    def test_rejected_and_expired(self):
        self._listen()
        contract = self._contract()
        auth = self._sent(contract)
        self.psp.reject_rec(auth.id_rec)
        self._notify_wait()
        self.assertEqual((auth.state, auth.reason_code), ("rejected", "AP13"))
        self.assertIn("rejected by the payer", auth.status_text)
        self.assertEqual(contract.payment_mode, "boleto")
        self.assertIn("pix_authorization_rejected", self._events(contract))
        # a new authorization after an ended one, then it expires
        auth2 = self._sent(contract)
        self.assertNotEqual(auth2, auth)
        self.psp.expire_rec(auth2.id_rec)
        self._notify_wait()
        self.assertEqual(auth2.state, "expired")
        self.assertTrue(auth2.ended_on)
        self.assertEqual(len(self._said(contract, auth2.id_rec)), 2)
        self.assertIn("pix_authorization_expired", self._events(contract))

    def test_cancelled_by_payer_then_late_notifications(self):
        self._listen()
        contract = self._contract()
        auth = self._sent(contract)
        self.psp.approve_rec(auth.id_rec)
        self._notify_wait()
        approval = len(self.psp.deliveries) - 1
        self.assertEqual(contract.payment_mode, "pix_automatico")
        # the same approval again: nothing changes, no second event
        self.psp.redeliver(approval)
        self._notify_wait()
        self.assertEqual(self._events(contract).count("pix_authorization_approved"), 1)

        self.psp.cancel_rec_by_payer(auth.id_rec)
        self._notify_wait()
        self.assertEqual(
            (auth.state, auth.cancelled_by, auth.reason_code), ("cancelled", "payer", "SLDB")
        )
        self.assertIn("Cancelled by Payer", auth.status_text)
        self.assertIn("requested by the payer", auth.status_text)
        # the contract is paid as before again
        self.assertEqual(contract.payment_mode, "boleto")
        self.assertIn("pix_authorization_cancelled", self._events(contract))
        # the approval arriving late: an ended authorization never comes back
        self.psp.redeliver(approval)
        self._notify_wait()
        self.assertEqual(auth.state, "cancelled")
        self.assertEqual(contract.payment_mode, "boleto")

    def test_out_of_order_and_forged_bodies(self):
        self._listen()
        contract = self._contract()
        auth = self._sent(contract)
        self.psp.approve_rec(auth.id_rec)
        self._notify_wait()
        # a body claiming an older status: the recurrence is read back, still approved
        response = self._post({"recs": [{"idRec": auth.id_rec, "status": "CRIADA"}]})
        self.assertEqual(response.status_code, 200)
        response = self._post({"recs": [{"idRec": auth.id_rec, "status": "CANCELADA"}]})
        self.assertEqual(response.status_code, 200)
        self.env.invalidate_all()
        self.assertEqual(auth.state, "approved")
        # unknown recurrences, malformed bodies, a wrong secret
        unknown = "RR12345678" + self.today.strftime("%Y%m%d") + "abcdefghijk"
        self.assertEqual(self._post({"recs": [{"idRec": unknown}]}).status_code, 200)
        for bad in (b"{", {"recs": "x"}, {"recs": [{"idRec": 5}]}, [1]):
            with self.subTest(body=bad):
                self.assertEqual(self._post(bad).status_code, 400)
        self.assertEqual(self._post({"recs": []}, secret="wrong").status_code, 401)
        self.env.invalidate_all()
        self.assertEqual(auth.state, "approved")

    def test_cancelled_by_receiver(self):
        self._listen()
        contract = self._contract()
        auth = self._sent(contract)
        self.psp.approve_rec(auth.id_rec)
        self._notify_wait()
        # the PSP's notifications of our own cancellations are read by the cron here
        self.psp.webhooks.clear()
        # the user switches the contract back to boleto: cancelled at the PSP by the cron
        contract.payment_mode = "boleto"
        self.assertTrue(auth.cancel_requested)
        self.assertEqual(self.psp.recs[auth.id_rec]["status"], "APROVADA")
        self.Auth._process_pending()
        self.assertEqual(self.psp.recs[auth.id_rec]["status"], "CANCELADA")
        self.assertEqual(
            (auth.state, auth.cancelled_by, auth.reason_code), ("cancelled", "receiver", "SLCR")
        )
        self.assertFalse(auth.cancel_requested)
        self.assertEqual(contract.payment_mode, "boleto")

        # closing the contract cancels its authorization
        auth2 = self._sent(contract)
        contract.action_close()
        self.Auth._process_pending()
        self.assertEqual(self.psp.recs[auth2.id_rec]["status"], "CANCELADA")
        self.assertEqual(auth2.state, "cancelled")
        self.assertEqual(auth2.cancelled_by, "receiver")

    def test_cancel_button_and_unsent(self):
        contract = self._contract()
        auth = self._authorize(contract)
        # saving the contract with its payment method unchanged cancels nothing
        contract.write({"payment_mode": "boleto", "reference": "REF-1"})
        self.assertEqual((auth.state, auth.cancel_requested), ("to_send", False))
        # never sent: cancelled at once, nothing at the PSP
        contract.action_rbm_pix_cancel_authorization()
        self.assertEqual((auth.state, auth.cancelled_by), ("cancelled", "receiver"))
        self.Auth._process_pending()
        self.assertFalse(
            [r for r in self.psp.recs.values() if r["vinculo"]["contrato"] == contract.name]
        )
        auth2 = self._sent(contract)
        auth2.with_user(self.env.user).action_cancel()
        self.Auth._process_pending()
        self.assertEqual(auth2.state, "cancelled")
        self.assertEqual(self.psp.recs[auth2.id_rec]["status"], "CANCELADA")

    def test_register_notifications(self):
        self.connection.notification_url = "https://erp.example.com.br"
        self.admin.company_ids = [Command.link(self.env.company.id)]
        connection = self.connection.with_user(self.admin).with_company(self.env.company)
        action = connection.action_register_webhook()
        self.assertEqual(action["params"]["type"], "success", action["params"]["message"])
        secret = self.connection.sudo().webhook_secret
        url = f"https://erp.example.com.br/rbm/pix/webhook/{self.connection.id}/{secret}"
        self.assertEqual(self.psp.webhooks[("webhookrec", None)]["webhookUrl"], url)
        self.assertEqual(self.psp.webhooks[("webhook", self.psp.pix_key)]["webhookUrl"], url)
        # the PSP refuses the second registration: said in words, the first one named
        self.psp.webhooks.clear()
        self.psp.fail_next("PUT", r"/webhookrec$", status=503, times=5)
        action = connection.action_register_webhook()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertIn(self.psp.pix_key, action["params"]["message"])

    def test_missed_notification_polled(self):
        contract = self._contract()
        auth = self._sent(contract)
        self.psp.approve_rec(auth.id_rec)  # no webhook registered: nobody hears it
        self.psp.wait_notifications()
        self.assertEqual(auth.state, "created")
        self.Auth._process_pending()
        self.assertEqual(auth.state, "approved")
        self.assertEqual(contract.payment_mode, "pix_automatico")

    def test_lost_answer_and_crash_no_second_recurrence(self):
        contract = self._contract()
        auth = self._authorize(contract)
        before = len(self.psp.recs)
        # the PSP creates the recurrence, its answer is lost (a POST is not repeated)
        self.psp.fail_next("POST", r"/rec$", status=503, after=True)
        self.Auth._process_pending()
        self.assertEqual(auth.state, "to_send")
        self.assertTrue(auth.error_message)
        self.assertEqual(len(self.psp.recs), before + 1)
        # the next run finds it through the stored location
        self.Auth._process_pending()
        self.assertEqual(auth.state, "created", auth.error_message)
        self.assertEqual(len(self.psp.recs), before + 1)
        id_rec = auth.id_rec
        # killed after the PSP answered, before our commit: the row is as before the call
        auth.write({"state": "to_send", "id_rec": False, "pix_copy_paste": False})
        self.Auth._process_pending()
        self.assertEqual((auth.state, auth.id_rec), ("created", id_rec))
        self.assertEqual(len(self.psp.recs), before + 1)

    def test_expired_token_and_missing_certificate(self):
        contract = self._contract()
        auth = self._authorize(contract)
        self.Auth._process_pending()
        self.assertEqual(auth.state, "created", auth.error_message)
        requests_before = self.psp.token_requests
        self.psp.expire_tokens()
        self.psp.approve_rec(auth.id_rec)
        self.Auth._process_pending()
        self.assertEqual(auth.state, "approved")
        self.assertEqual(self.psp.token_requests, requests_before + 1)

        other = self._contract(partner=self.customer.copy({"vat": "529.982.247-25"}))
        auth2 = self._authorize(other)
        self.connection.sudo().write({"certificate_pem": False, "private_key_pem": False})
        self.Auth._process_pending()
        self.assertEqual(auth2.state, "to_send")
        self.assertIn("certificate", auth2.error_message)
        self.assertIn(self.connection.name, auth2.error_message)

    def test_periodicity_and_payer_refused(self):
        plan = self.plan.copy({"interval": 2, "name": "Bimestral"})
        contract = self._contract(plan=plan)
        with self.assertRaisesRegex(UserError, f"{contract.name}.*Bimestral.*every 2 months"):
            self._authorize(contract)
        self.assertFalse(contract.rbm_pix_authorization_ids)
        weekly = self._contract(plan=self.plan.copy({"interval_unit": "week"}))
        self.assertEqual(self._authorize(weekly).periodicity, "SEMANAL")
        yearly = self._contract(plan=self.plan.copy({"interval_unit": "month", "interval": 12}))
        self.assertEqual(self._authorize(yearly).periodicity, "ANUAL")
        nodoc = self._contract(partner=self.customer.copy({"vat": False}))
        with self.assertRaisesRegex(UserError, "CPF or CNPJ"):
            self._authorize(nodoc)

    def test_database_allows_one_live_authorization(self):
        contract = self._contract()
        auth = self._authorize(contract)
        vals = auth.copy_data()[0]
        with (
            mute_logger("odoo.sql_db"),
            self.assertRaises(psycopg2.IntegrityError),
            self.cr.savepoint(),
        ):
            self.Auth.create(vals)
        self.assertEqual(len(contract.rbm_pix_authorization_ids), 1)

    def test_other_company_and_portal_refused(self):
        contract = self._contract()
        auth = self._authorize(contract)
        other_company = self.setup_other_company()["company"]
        stranger = self.env["res.users"].create(
            {
                "name": "Outra Empresa",
                "login": "pix_other_company",
                "company_id": other_company.id,
                "company_ids": [Command.set(other_company.ids)],
                "groups_id": [
                    Command.set(
                        [
                            self.env.ref("base.group_user").id,
                            self.env.ref("rbm_recurring.rbm_recurring_group_manager").id,
                        ]
                    )
                ],
            }
        )
        with self.assertRaises(AccessError):
            auth.with_user(stranger).read(["state"])
        with self.assertRaises(AccessError):
            auth.with_user(stranger).action_cancel()
        # a portal user calling the back-office methods over RPC
        portal = self.env["res.users"].create(
            {
                "name": "Cliente Portal",
                "login": "pix_portal_rpc",
                "password": "pix_portal_rpc",
                "partner_id": self.customer.id,
                "groups_id": [Command.set([self.env.ref("base.group_portal").id])],
            }
        )
        self.authenticate("pix_portal_rpc", "pix_portal_rpc")
        for model, method, ids in (
            ("rbm.pix.authorization", "action_cancel", auth.ids),
            ("rbm.contract", "action_rbm_pix_authorize", contract.ids),
            ("rbm.contract", "action_rbm_pix_cancel_authorization", contract.ids),
            ("rbm.contract", "_rbm_pix_authorize_sudo", contract.ids),
        ):
            with self.subTest(method=method), mute_logger("odoo.http"):
                with self.assertRaises(JsonRpcException):
                    self.make_jsonrpc_request(
                        "/web/dataset/call_kw",
                        {"model": model, "method": method, "args": [ids], "kwargs": {}},
                    )
        self.env.invalidate_all()
        self.assertEqual((auth.state, auth.cancel_requested), ("to_send", False))
        self.assertTrue(portal)


@tagged("post_install", "-at_install")
class TestPixAuthorizationConcurrency(PspCase, TransactionCase):
    """Two requests for one contract at once, each in its own transaction."""

    def test_double_request_at_once_one_authorization(self):
        self._start_psp()
        today = fields.Date.today()
        [contract_id], [partner_id] = commit_contracts(self, 1, today, "Pix concorrência")
        with self.registry.cursor() as cr:
            cr.transaction = Transaction(self.registry)
            env = api.Environment(cr, SUPERUSER_ID, {"lang": "en_US"})
            env["res.partner"].browse(partner_id).vat = "390.533.447-05"
            company = env["rbm.contract"].browse(contract_id).company_id
            # a public address, never called here: requests are sent by the cron
            connection = env["rbm.pix.connection"].create(
                self._connection_values(
                    company_id=company.id,
                    base_url="https://8.8.8.8/api/v2",
                    token_url="https://8.8.8.8/oauth/token",
                )
            )
            connection_id = connection.id

        def delete():
            with self.registry.cursor() as cr:
                cr.execute(
                    "DELETE FROM rbm_pix_authorization WHERE contract_id = %s", [contract_id]
                )
                cr.execute("DELETE FROM rbm_pix_connection WHERE id = %s", [connection_id])

        self.addCleanup(delete)
        barrier = threading.Barrier(2)
        outcomes = []

        def request():
            with self.registry.cursor() as cr:
                # the test runner holds the registry lock: hand the registry over
                cr.transaction = Transaction(self.registry)
                env = api.Environment(cr, SUPERUSER_ID, {"lang": "en_US"})
                contract = env["rbm.contract"].browse(contract_id)
                contract.rbm_pix_authorization_ids  # noqa: B018 (read before the other commits)
                barrier.wait()
                try:
                    env["rbm.pix.authorization"]._create_for_contract(contract, "2")
                    cr.commit()  # pylint: disable=invalid-commit
                    outcomes.append("created")
                except UserError as error:
                    cr.rollback()
                    outcomes.append(error.args[0])

        threads = [threading.Thread(target=request) for _i in range(2)]
        with mute_logger("odoo.sql_db"):
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
        self.assertEqual(outcomes.count("created"), 1, outcomes)
        [refusal] = [outcome for outcome in outcomes if outcome != "created"]
        self.assertIn("already has a Pix Automático authorization", refusal)
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT count(*) FROM rbm_pix_authorization WHERE contract_id = %s", [contract_id]
            )
            self.assertEqual(cr.fetchone()[0], 1)


@tagged("post_install", "-at_install")
class TestPixAuthorizationPortal(PixAuthorizationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.portal_user = cls._portal_user("pix_portal", cls.customer)
        cls.other_customer = cls.customer.copy({"name": "João Outro", "vat": "529.982.247-25"})
        cls.other_user = cls._portal_user("pix_portal_other", cls.other_customer)

    @classmethod
    def _portal_user(cls, login, partner):
        return (
            cls.env["res.users"]
            .with_context(no_reset_password=True)
            .create(
                {
                    "name": partner.name,
                    "login": login,
                    "password": login,
                    "partner_id": partner.id,
                    "groups_id": [Command.set([cls.env.ref("base.group_portal").id])],
                }
            )
        )

    def _csrf_token(self, contract):
        page = self.url_open(f"/my/subscriptions/{contract.id}")
        self.assertEqual(page.status_code, 200)
        return page.text.split('name="csrf_token" value="')[1].split('"')[0]

    def test_another_customer_refused(self):
        contract = self._contract()
        own = self._contract(partner=self.other_customer)
        self.authenticate("pix_portal_other", "pix_portal_other")
        token = self._csrf_token(own)
        for path in ("pix_automatico", "pix_automatico/refresh"):
            response = self.url_open(
                f"/my/subscriptions/{contract.id}/{path}",
                data={"csrf_token": token},
                allow_redirects=False,
            )
            self.assertEqual(response.status_code, 303)
            self.assertTrue(response.headers["Location"].endswith("/my"))
        self.assertFalse(contract.rbm_pix_authorization_ids)
        page = self.url_open(f"/my/subscriptions/{contract.id}", allow_redirects=False)
        self.assertEqual(page.status_code, 303)
        # their own contract works
        response = self.url_open(
            f"/my/subscriptions/{own.id}/pix_automatico",
            data={"csrf_token": token},
            allow_redirects=False,
        )
        self.assertEqual(response.status_code, 303)
        self.assertEqual(own.rbm_pix_authorization_id.state, "to_send")
        # asking twice (double submit) is refused in words, one authorization stays
        response = self.url_open(
            f"/my/subscriptions/{own.id}/pix_automatico", data={"csrf_token": token}
        )
        self.assertEqual(response.status_code, 403)
        self.assertIn(own.name, response.text)
        self.assertEqual(len(own.rbm_pix_authorization_ids), 1)

    def test_portal_tour(self):
        contract = self._contract()
        self.env.ref("base.lang_pt_BR").active = True
        self.start_tour(
            f"/my/subscriptions/{contract.id}", "rbm_pix_authorization_portal", login="pix_portal"
        )
        auth = contract.rbm_pix_authorization_id
        self.assertEqual((auth.state, auth.journey), ("to_send", "2"))
        self.Auth._process_pending()
        self.assertEqual(auth.state, "created", auth.error_message)
        self.start_tour(
            f"/my/subscriptions/{contract.id}",
            "rbm_pix_authorization_portal_qr",
            login="pix_portal",
        )
        self.psp.approve_rec(auth.id_rec)
        self.start_tour(
            f"/my/subscriptions/{contract.id}",
            "rbm_pix_authorization_portal_refresh",
            login="pix_portal",
        )
        self.env.invalidate_all()
        self.assertEqual(auth.state, "approved")


@tagged("post_install", "-at_install")
class TestPixAuthorizationTour(PixAuthorizationCase):
    def test_backoffice_authorize_tour(self):
        contract = self._contract()
        self.start_tour(
            f"/odoo/action-rbm_recurring.rbm_contract_action/{contract.id}",
            "rbm_pix_authorization_backoffice",
            login=self.env.user.login,
        )
        auth = contract.rbm_pix_authorization_id
        self.assertEqual((auth.state, auth.journey), ("to_send", "2"))
        self.Auth._process_pending()
        self.assertEqual(auth.state, "created", auth.error_message)
