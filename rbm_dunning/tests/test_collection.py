import json
from datetime import timedelta

from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import ValidationError
from odoo.tests import Form, tagged

from .common import RbmDunningCase
from .common_card import RbmCardCase


@tagged("post_install", "-at_install")
class TestCollectionRules(RbmDunningCase):
    """The régua de cobrança walked day by day with real invoices, payments,
    contracts and the daily run."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer.mobile = "+55 11 98765-4321"
        cls.endpoint = cls.env["rbm.provisioning.endpoint"].create(
            {
                "name": "Provisioning",
                "url": "https://provisioning.example.com/hook",
                "secret": "s3cr3t",
            }
        )
        cls.policy = cls.env["rbm.collection.policy"].create(
            {
                "name": "Régua padrão",
                "is_default": True,
                "date_start": "2026-01-01",
                "fine_percent": 2.0,
                "interest_percent_month": 1.0,
                "step_ids": [
                    Command.create({"day_offset": -3, "action": "email"}),
                    Command.create({"day_offset": 1, "action": "email"}),
                    Command.create({"day_offset": 3, "action": "sms"}),
                    Command.create({"day_offset": 10, "action": "suspend"}),
                    Command.create({"day_offset": 30, "action": "cancel"}),
                ],
            }
        )
        cls.Log = cls.env["rbm.collection.log"]
        cls.Run = cls.env["rbm.collection.run"]

    # ------------------------------------------------------------------ helpers

    def _walk(self, first, last):
        """Run the daily collection run on each day from ``first`` to ``last``."""
        day = first
        while day <= last:
            with freeze_time(day):
                self.Run._run_all(day)
            day += timedelta(days=1)

    def _pay(self, invoice, day, amount=None):
        with freeze_time(day):
            wizard = (
                self.env["account.payment.register"]
                .with_context(active_model="account.move", active_ids=invoice.ids)
                .create(
                    {
                        "payment_date": day,
                        "amount": amount or invoice.amount_residual,
                        "journal_id": self.bank_journal.id,
                    }
                )
            )
            return wizard._create_payments()

    def _emails(self, invoice):
        return invoice.message_ids.filtered(
            lambda m: (
                m.message_type == "comment" and m.subtype_id == self.env.ref("mail.mt_comment")
            )
        )

    def _sms(self, invoice):
        return self.env["sms.sms"].search([("mail_message_id.res_id", "=", invoice.id)])

    def _logs(self, invoice, state="done"):
        return self.Log.search([("move_id", "=", invoice.id), ("state", "=", state)], order="id")

    # ------------------------------------------------------------------ tests

    def test_walk_runs_each_step_once_then_suspends_and_cancels(self):
        invoice = self._bill_contract(payment_mode="invoice")
        contract = invoice.rbm_contract_id
        due = invoice.invoice_date_due
        self._walk(due - timedelta(days=6), due + timedelta(days=9))
        done = self._logs(invoice)
        self.assertEqual(
            [(log.step_id.day_offset, log.date - due) for log in done],
            [(-3, timedelta(-3)), (1, timedelta(1)), (3, timedelta(3))],
        )
        self.assertEqual(len(self._emails(invoice)), 2)
        sms = self._sms(invoice)
        self.assertEqual(len(sms), 1)
        self.assertIn(invoice.name, sms.body)
        self.assertEqual(contract.state, "active")
        # D+10: suspended, and the provisioning endpoint hears of it
        self._walk(due + timedelta(days=10), due + timedelta(days=10))
        self.assertEqual(contract.state, "suspended")
        self.assertTrue(contract.rbm_suspended_by_collection)
        events = self.env["rbm.provisioning.event"].search([("contract_id", "=", contract.id)])
        self.assertIn("suspended", events.mapped("event_type"))
        # running the same day again changes nothing
        with freeze_time(due + timedelta(days=10)):
            self.Run._run_all(due + timedelta(days=10))
        self.assertEqual(len(self._logs(invoice)), 4)
        self._walk(due + timedelta(days=11), due + timedelta(days=31))
        self.assertEqual(contract.state, "cancelled")
        self.assertEqual(
            contract.cancel_reason_id, self.env.ref("rbm_recurring.cancel_reason_non_payment")
        )
        self.assertEqual(
            [log.step_id.day_offset for log in self._logs(invoice)], [-3, 1, 3, 10, 30]
        )
        self.assertEqual(len(self._emails(invoice)), 2)
        self.assertEqual(len(self._sms(invoice)), 1)
        # every step is on the invoice's and the customer's chatter
        traces = self.customer.message_ids.filtered(lambda m: invoice.name in (m.body or ""))
        self.assertEqual(len(traces), 5)

    def test_simulate_a_policy_on_an_invoice(self):
        """The policy's Simulate button: for an overdue invoice, each step with
        what the run did, would do on the day, or will do; nothing is sent."""
        invoice = self._bill_contract()
        due = invoice.invoice_date_due
        action = self.policy.action_open_simulation()
        simulation = self.env["rbm.collection.simulation"].browse(action["res_id"])
        with Form(simulation) as form:
            form.move_id = invoice
            form.date = due + timedelta(days=5)
        messages_before = len(invoice.message_ids)
        simulation.action_simulate()
        outcomes = [(line.step_id.day_offset, line.outcome) for line in simulation.line_ids]
        # nothing ran yet: the -3 reminder is superseded by the +1 email (only
        # the latest email of the day goes out), +1 and +3 run on D+5, the
        # suspension (+10) and the cancellation (+30) are to come
        self.assertEqual(
            outcomes,
            [(-3, "skipped"), (1, "today"), (3, "today"), (10, "planned"), (30, "planned")],
        )
        self.assertIn("Superseded", simulation.line_ids[0].message)
        self.assertEqual(simulation.line_ids[3].day, due + timedelta(days=10))
        self.assertFalse(self.Log.search([("move_id", "=", invoice.id)]))
        self.assertEqual(len(invoice.message_ids), messages_before)
        # after the runs of D+1 to D+3, what they did is shown as logged
        self._walk(due + timedelta(days=1), due + timedelta(days=3))
        simulation.action_simulate()
        outcomes = [(line.step_id.day_offset, line.outcome) for line in simulation.line_ids]
        self.assertEqual(
            outcomes,
            [(-3, "skipped"), (1, "done"), (3, "done"), (10, "planned"), (30, "planned")],
        )
        self.assertIn("Logged on", simulation.line_ids[1].message)

    def test_payment_stops_the_steps_and_reactivates(self):
        # a late fee product the user left with the company's sales tax: the fee
        # is still billed as computed, without taxes
        taxed = self.env["product.product"].create(
            {"name": "Encargos", "type": "service", "taxes_id": [Command.set(self.tax_sale_a.ids)]}
        )
        self.assertTrue(taxed.taxes_id)
        self.policy.late_fee_product_id = taxed
        invoice = self._bill_contract(payment_mode="invoice")
        contract = invoice.rbm_contract_id
        due = invoice.invoice_date_due
        self._walk(due - timedelta(days=3), due + timedelta(days=11))
        self.assertEqual(contract.state, "suspended")
        self._pay(invoice, due + timedelta(days=12))
        self.assertEqual(invoice.payment_state in ("paid", "in_payment"), True)
        # reactivated at once, with its provisioning event
        self.assertEqual(contract.state, "active")
        self.assertFalse(contract.rbm_suspended_by_collection)
        events = self.env["rbm.provisioning.event"].search([("contract_id", "=", contract.id)])
        self.assertIn("reactivated", events.mapped("event_type"))
        self._walk(due + timedelta(days=12), due + timedelta(days=40))
        self.assertEqual([log.step_id.day_offset for log in self._logs(invoice)], [-3, 1, 3, 10])
        self.assertEqual(contract.state, "active")
        # the late fee of 12 days: 2% fine + 1% a month pro rata die
        fee = invoice.rbm_late_fee_ids
        self.assertEqual(len(fee), 1)
        self.assertEqual((fee.days_late, fee.fine_amount, fee.interest_amount), (12, 3.0, 0.6))
        self.assertEqual(fee.state, "next_invoice")
        self.assertEqual(fee.charge_id.amount, 3.6)
        # billed on the contract's next invoice, once
        result = contract.env["rbm.billing.run"]._bill(contract, due + timedelta(days=40))
        fee_lines = result["moves"].invoice_line_ids.filtered(
            lambda line: line.rbm_charge_id == fee.charge_id
        )
        self.assertEqual(len(fee_lines), 1)
        self.assertEqual(
            (fee_lines.product_id, fee_lines.tax_ids), (taxed, self.env["account.tax"])
        )
        self.assertEqual((fee_lines.price_subtotal, fee_lines.price_total), (3.6, 3.6))
        self.assertTrue(fee.charge_id.untaxed)
        self.assertEqual(self.env["rbm.late.fee"].search_count([("move_id", "=", invoice.id)]), 1)

    def test_reactivation_waits_for_the_last_overdue_invoice(self):
        first = self._bill_contract(payment_mode="invoice")
        contract = first.rbm_contract_id
        due = first.invoice_date_due
        second = contract.env["rbm.billing.run"]._bill(contract, due + timedelta(days=25))["moves"]
        self.assertTrue(second)
        self._walk(due + timedelta(days=10), due + timedelta(days=10))
        self.assertEqual(contract.state, "suspended")
        day = max(due + timedelta(days=12), second.invoice_date_due + timedelta(days=1))
        self._pay(first, day)
        self.assertEqual(contract.state, "suspended", "the second invoice is still overdue")
        self._pay(second, day)
        self.assertEqual(contract.state, "active")

    def test_crash_and_rerun_send_nothing_twice(self):
        invoice = self._bill_contract(payment_mode="invoice")
        day = invoice.invoice_date_due + timedelta(days=1)

        class Crash(Exception):
            pass

        with freeze_time(day):
            try:
                with self.env.cr.savepoint():
                    self.Run._run_all(day)
                    self.assertEqual(len(self._emails(invoice)), 1)
                    raise Crash()
            except Crash:
                pass
            self.env.invalidate_all()
            self.assertFalse(self._emails(invoice), "the crashed run left nothing behind")
            self.Run._run_all(day)
            self.Run._run_all(day)
        self.assertEqual(len(self._emails(invoice)), 1)
        # a second run holding the same rows (a concurrent run) gets nothing to do
        log = self._logs(invoice)[-1]
        vals = self.Run._prepare_log_vals(log.step_id, log.move_line_id, day, "running", False)
        self.assertFalse(self.Log._reserve([vals]))

    def test_pause_and_superseded_reminders(self):
        invoice = self._bill_contract(payment_mode="invoice")
        due = invoice.invoice_date_due
        self.customer.write(
            {
                "rbm_collection_paused_until": due + timedelta(days=5),
                "rbm_collection_pause_note": "Paga dia 15",
            }
        )
        self._walk(due - timedelta(days=4), due + timedelta(days=5))
        self.assertFalse(self.Log.search([("move_id", "=", invoice.id)]))
        self._walk(due + timedelta(days=6), due + timedelta(days=6))
        # D-3 and D+1 emails are due at once: only the latest is sent
        self.assertEqual(len(self._emails(invoice)), 1)
        self.assertEqual(len(self._sms(invoice)), 1)
        skipped = self._logs(invoice, state="skipped")
        self.assertEqual(skipped.step_id.day_offset, -3)
        self.assertIn("Superseded", skipped.message)

    def test_policy_assigned_late_skips_past_steps(self):
        invoice = self._bill_contract(payment_mode="invoice")
        due = invoice.invoice_date_due
        own = self.policy.copy({"name": "Própria", "is_default": False})
        with freeze_time(due + timedelta(days=5)):
            self.customer.rbm_collection_policy_id = own
        self.assertEqual(self.customer.rbm_collection_policy_date, due + timedelta(days=5))
        self._walk(due + timedelta(days=5), due + timedelta(days=10))
        self.assertEqual(self._logs(invoice, "skipped").step_id.mapped("day_offset"), [-3, 1, 3])
        self.assertFalse(self._emails(invoice))
        self.assertEqual(self._logs(invoice).step_id.day_offset, 10)
        self.assertEqual(self._logs(invoice).policy_id, own)

    def test_conditions_activity_webhook_protest(self):
        vip = self.env["res.partner.category"].create({"name": "VIP"})
        self.policy.step_ids = [
            Command.create({"day_offset": 2, "action": "activity", "activity_summary": "Ligar"}),
            Command.create({"day_offset": 4, "action": "webhook", "endpoint_id": self.endpoint.id}),
            Command.create({"day_offset": 5, "action": "email", "min_overdue_amount": 1000.0}),
            Command.create(
                {"day_offset": 6, "action": "email", "partner_category_ids": [Command.set(vip.ids)]}
            ),
            Command.create({"day_offset": 7, "action": "email", "payment_mode": "card"}),
            Command.create({"day_offset": 20, "action": "protest"}),
        ]
        invoice = self._bill_contract(payment_mode="invoice")
        due = invoice.invoice_date_due
        self._walk(due + timedelta(days=2), due + timedelta(days=8))
        activity = invoice.activity_ids
        self.assertEqual(activity.summary, "Ligar")
        event = self.env["rbm.provisioning.event"].search([("event_type", "=", "collection_step")])
        self.assertEqual(len(event), 1)
        payload = json.loads(event.payload)
        self.assertEqual(payload["invoice"]["name"], invoice.name)
        self.assertEqual(payload["invoice"]["days_overdue"], 4)
        self.assertEqual(payload["invoice"]["amount_due"], 150.0)
        skipped = self._logs(invoice, "skipped")
        # D-3 superseded by D+1 (both due on the first run), then the conditions
        self.assertEqual(skipped.step_id.mapped("day_offset"), [-3, 5, 6, 7])
        self.assertIn("below the step's minimum", skipped[1].message)
        self.assertIn("tags", skipped[2].message)
        self.assertIn("Card", skipped[3].message)
        self.assertFalse(invoice.rbm_legal_collection)
        self._walk(due + timedelta(days=20), due + timedelta(days=20))
        self.assertTrue(invoice.rbm_legal_collection)

    def test_failed_step_is_logged_and_does_not_block_others(self):
        self.customer.mobile = False
        self.customer.phone = False
        invoice = self._bill_contract(payment_mode="invoice")
        due = invoice.invoice_date_due
        self._walk(due + timedelta(days=3), due + timedelta(days=3))
        failed = self._logs(invoice, "failed")
        self.assertEqual(failed.action, "sms")
        self.assertIn("no mobile number", failed.message)
        self.assertEqual(len(self._emails(invoice)), 1)

    def test_batches_cover_every_installment(self):
        invoices = self.env["account.move"]
        for index in range(5):
            partner = self.customer.copy(
                {"name": f"Cliente {index}", "email": f"c{index}@example.com"}
            )
            invoices |= self._bill_contract(payment_mode="invoice", partner=partner)
        due = invoices[0].invoice_date_due
        day = due + timedelta(days=1)
        with freeze_time(day):
            done = self.Run._run_all(day, batch_size=3)
        self.assertEqual(done, 5)
        for invoice in invoices:
            self.assertEqual(len(self._emails(invoice)), 1, invoice.partner_id.name)

    def test_cron_runs_one_batch_and_triggers_itself(self):
        invoices = self.env["account.move"]
        for index in range(3):
            partner = self.customer.copy(
                {"name": f"Cliente {index}", "email": f"c{index}@example.com"}
            )
            invoices |= self._bill_contract(payment_mode="invoice", partner=partner)
        # three days before the due date: one step (the D-3 email) per installment
        day = invoices[0].invoice_date_due - timedelta(days=3)
        cron = self.env.ref("rbm_dunning.ir_cron_rbm_collection_run")
        self.assertEqual(cron.model_id.model, "rbm.collection.run")
        Trigger = self.env["ir.cron.trigger"]
        Progress = self.env["ir.cron.progress"]
        with freeze_time(day):
            due = self.Run.sudo()._get_due_work(day, limit=1000)[1]
            self.assertGreaterEqual(due, 3)
            triggers = Trigger.search_count([("cron_id", "=", cron.id)])
            progress = Progress.create({"cron_id": cron.id})
            self.Run.with_context(ir_cron_progress_id=progress.id)._cron_collection_run(
                batch_size=1
            )
            # one step done, the others left to the next call of the cron
            self.assertEqual((progress.done, progress.remaining), (1, due - 1))
            self.assertEqual(len(invoices.filtered(self._emails)), 1)
            self.assertEqual(Trigger.search_count([("cron_id", "=", cron.id)]), triggers + 1)
            for _call in range(due - 1):
                progress = Progress.create({"cron_id": cron.id})
                self.Run.with_context(ir_cron_progress_id=progress.id)._cron_collection_run(
                    batch_size=1
                )
            self.assertEqual((progress.done, progress.remaining), (1, 0))
            # the last call left nothing: the cron is not triggered again
            self.assertEqual(Trigger.search_count([("cron_id", "=", cron.id)]), triggers + due - 1)
            # the cron as scheduled: nothing left to do today
            cron.method_direct_trigger()
        for invoice in invoices:
            self.assertEqual(len(self._emails(invoice)), 1, invoice.partner_id.name)
            self.assertEqual(len(self._logs(invoice)), 1)

    def test_run_again_the_same_day_reaches_installments_behind_it(self):
        paused = self.customer.copy({"name": "Cliente pausado", "email": "p@example.com"})
        first = self._bill_contract(payment_mode="invoice", partner=paused)
        second = self._bill_contract(payment_mode="invoice")
        day = first.invoice_date_due - timedelta(days=3)
        paused.rbm_collection_paused_until = day
        with freeze_time(day):
            self.assertEqual(self.Run._run_all(day), 1)
            self.assertFalse(self._emails(first))
            self.assertEqual(len(self._emails(second)), 1)
            # the pause lifted the same day: a second run goes back for it
            paused.rbm_collection_paused_until = False
            self.assertEqual(self.Run._run_all(day), 1)
        self.assertEqual(len(self._emails(first)), 1)
        self.assertEqual(len(self._emails(second)), 1)

    def test_invoice_without_contract(self):
        invoice = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": self.customer.id,
                "invoice_date": "2026-03-01",
                "invoice_date_due": "2026-03-10",
                "invoice_line_ids": [
                    Command.create({"product_id": self.product.id, "price_unit": 150.0})
                ],
            }
        )
        invoice.action_post()
        due = invoice.invoice_date_due
        self._walk(due + timedelta(days=1), due + timedelta(days=10))
        self.assertEqual(len(self._emails(invoice)), 1)
        self.assertEqual(len(self._sms(invoice)), 1)
        suspend = self._logs(invoice).filtered(lambda log: log.action == "suspend")
        self.assertEqual(suspend.message, "No contract to suspend.")
        self.assertFalse(suspend.contract_id)
        superseded = self._logs(invoice, state="skipped")
        self.assertEqual(superseded.step_id.day_offset, -3)

    def test_email_carries_boleto_and_typeable_line(self):
        invoice = self._bill_contract(payment_mode="boleto")
        boleto = invoice.rbm_boleto_ids
        self.assertTrue(boleto)
        day = invoice.invoice_date_due + timedelta(days=1)
        self._walk(day, day)
        email = self._emails(invoice)
        self.assertEqual(len(email), 1)
        self.assertIn(boleto.typeable_line, email.body)
        self.assertIn(boleto.pix_payload, email.body)
        self.assertEqual(email.attachment_ids.mimetype, "application/pdf")

    def test_policy_validation(self):
        Policy = self.env["rbm.collection.policy"]
        with self.assertRaisesRegex(ValidationError, "capped at 2"):
            Policy.create({"name": "Alta", "fine_percent": 2.5})
        business = Policy.create({"name": "B2B", "fine_percent": 10.0, "business_only": True})
        self.assertEqual(business.fine_percent, 10.0)
        with self.assertRaisesRegex(ValidationError, "already has a default"):
            Policy.create({"name": "Outra", "is_default": True})
        with self.assertRaisesRegex(ValidationError, "before the installment is due"):
            business.step_ids = [Command.create({"day_offset": -1, "action": "suspend"})]
        with self.assertRaisesRegex(ValidationError, "Webhook Endpoint"):
            business.step_ids = [Command.create({"day_offset": 1, "action": "webhook"})]

    def test_step_offers_the_contracts_payment_methods(self):
        """One list of payment methods: a step's condition offers exactly the
        contract's, with the three rbm_dunning adds (boleto, Pix, direct debit)."""
        contract_modes = (
            self.env["rbm.contract"]._fields["payment_mode"]._description_selection(self.env)
        )
        step_modes = (
            self.env["rbm.collection.step"]._fields["payment_mode"]._description_selection(self.env)
        )
        self.assertEqual(step_modes, contract_modes)
        # rbm_pix, when installed, adds Pix Automático to both
        extra = ["pix_automatico"] if "rbm.pix.authorization" in self.env else []
        self.assertEqual(
            [key for key, _label in step_modes],
            ["invoice", "boleto", "pix", "card", "direct_debit", *extra],
        )


@tagged("post_install", "-at_install")
class TestLateFees(RbmDunningCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.policy = cls.env["rbm.collection.policy"].create(
            {"name": "Multa e juros", "is_default": True, "date_start": "2026-01-01"}
        )
        cls.Fee = cls.env["rbm.late.fee"]

    _pay = TestCollectionRules._pay

    def _process(self, day):
        with freeze_time(day):
            return self.Fee._process_paid_installments(day)

    def test_amounts_for_several_delays(self):
        cases = [(0, 0.0, 0.0), (1, 3.0, 0.05), (15, 3.0, 0.75), (45, 3.0, 2.25), (91, 3.0, 4.55)]
        for days, fine, interest in cases:
            partner = self.customer.copy({"name": f"Atraso {days}"})
            invoice = self._bill_contract(payment_mode="invoice", partner=partner)
            pay_day = invoice.invoice_date_due + timedelta(days=days)
            self._pay(invoice, pay_day)
            self._process(pay_day + timedelta(days=1))
            fee = invoice.rbm_late_fee_ids
            if not days:
                self.assertFalse(fee, "paid on the due date: no fee")
                continue
            self.assertEqual(
                (fee.days_late, fee.fine_amount, fee.interest_amount, fee.amount),
                (days, fine, interest, round(fine + interest, 2)),
                f"{days} days late",
            )
        # never twice
        self.assertFalse(self._process(invoice.invoice_date_due + timedelta(days=120)))

    def test_partial_payments_count_their_own_days(self):
        invoice = self._bill_contract(payment_mode="invoice")
        due = invoice.invoice_date_due
        self._pay(invoice, due + timedelta(days=5), amount=100.0)
        self.assertFalse(self._process(due + timedelta(days=6)), "not fully paid yet")
        self._pay(invoice, due + timedelta(days=20), amount=50.0)
        fee = self._process(due + timedelta(days=21))
        # fine 2% of 150; interest (100 × 5 + 50 × 20) × 1% ÷ 30
        self.assertEqual((fee.fine_amount, fee.interest_amount, fee.amount), (3.0, 0.5, 3.5))
        self.assertEqual(fee.days_late, 20)

    def test_business_policy_and_consumer_cap(self):
        self.policy.write({"fine_percent": 2.0})
        b2b = self.env["rbm.collection.policy"].create(
            {
                "name": "B2B",
                "fine_percent": 10.0,
                "business_only": True,
                "late_fee_mode": "debit",
                "date_start": "2026-01-01",
            }
        )
        company_customer = self.customer.copy(
            {"name": "Empresa Ltda", "is_company": True, "vat": False}
        )
        company_customer.rbm_collection_policy_id = b2b
        person = self.customer.copy({"name": "Pessoa Física"})
        person.rbm_collection_policy_id = b2b
        fees = {}
        for partner in (company_customer, person):
            invoice = self._bill_contract(payment_mode="invoice", partner=partner)
            day = invoice.invoice_date_due + timedelta(days=30)
            self._pay(invoice, day)
            fees[partner] = self._process(day)
        self.assertEqual(fees[company_customer].fine_amount, 15.0)
        self.assertEqual(fees[person].fine_amount, 3.0, "consumers: fine capped at 2%")
        # separate debit invoices, posted, with the fee only
        debit = fees[company_customer].debit_move_id
        self.assertEqual(debit.state, "posted")
        self.assertEqual(debit.amount_total, 16.5)
        self.assertEqual(fees[company_customer].state, "invoiced")

    def test_minimum_and_no_charge_modes(self):
        self.policy.late_fee_minimum = 5.0
        invoice = self._bill_contract(payment_mode="invoice")
        day = invoice.invoice_date_due + timedelta(days=3)
        self._pay(invoice, day)
        fee = self._process(day)
        self.assertEqual(fee.state, "waived")
        self.assertFalse(fee.charge_id or fee.debit_move_id)

    def test_bank_collected_interest_is_not_charged_again(self):
        invoice = self._bill_contract(payment_mode="boleto")
        boleto = invoice.rbm_boleto_ids
        credit_day = boleto.due_date + timedelta(days=12)
        content = self._return_240(
            [
                {
                    "occurrence": "06",
                    "boleto": boleto,
                    "amount_paid": 153.6,
                    "interest_fine": 3.6,
                    "credit_date": credit_day,
                    "occurrence_date": credit_day,
                }
            ],
            generated_on=credit_day,
        )
        with freeze_time(credit_day):
            self._import(content)
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        fee = self._process(credit_day + timedelta(days=1))
        self.assertEqual(fee.state, "collected")
        self.assertEqual(fee.amount, 3.6)
        self.assertFalse(fee.charge_id or fee.debit_move_id)


@tagged("post_install", "-at_install")
class TestCollectionCardStep(RbmCardCase):
    """The policy's card step charges the saved card again through the card
    charges of the invoice (a real demo-provider transaction)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["rbm.collection.policy"].create(
            {
                "name": "Cartão",
                "is_default": True,
                "date_start": "2026-01-01",
                "step_ids": [
                    Command.create({"day_offset": 5, "action": "card", "payment_mode": "card"})
                ],
            }
        )

    def _collection_run(self, day):
        with freeze_time(day):
            self.env["rbm.collection.run"]._run_all(day)

    def test_card_step_charges_again_and_logs_the_refusal(self):
        token = self._make_token(self.customer, "error")
        invoice = self._bill_card_contract(token)
        self._run_cron(invoice.invoice_date)
        self.assertEqual(invoice.rbm_card_attempt_ids.state, "failed")
        due = invoice.invoice_date_due
        # still refused on the step's day: logged as failed with the provider's reason
        self._collection_run(due + timedelta(days=5))
        log = self.env["rbm.collection.log"].search([("move_id", "=", invoice.id)])
        self.assertEqual((log.action, log.state), ("card", "failed"))
        self.assertIn("refused", log.message)
        self.assertEqual(invoice.rbm_card_attempt_ids.mapped("origin"), ["post", "dunning"])
        # the step ran once: the next day's run does not charge again
        self._collection_run(due + timedelta(days=6))
        self.assertEqual(len(invoice.rbm_card_attempt_ids), 2)

    def test_card_step_settles_the_invoice(self):
        token = self._make_token(self.customer, "error")
        invoice = self._bill_card_contract(token)
        self._run_cron(invoice.invoice_date)
        token.demo_simulated_state = "done"
        self._collection_run(invoice.invoice_date_due + timedelta(days=5))
        log = self.env["rbm.collection.log"].search([("move_id", "=", invoice.id)])
        self.assertEqual(log.state, "done")
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
