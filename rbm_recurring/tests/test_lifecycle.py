import json
import re
from datetime import date

from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import UserError, ValidationError
from odoo.tests import Form, tagged

from .common import RbmBillingCase, d


@tagged("post_install", "-at_install")
class TestContractChanges(RbmBillingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.product_big = cls._make_product("Plan Business", 200.0)
        cls.product_addon = cls._make_product("Backup add-on", 30.0)

    def _plans(self, **vals):
        small = self._make_plan([(self.product_plan, 1, 100.0)], name="Small", **vals)
        big = self._make_plan([(self.product_big, 1, 200.0)], name="Big", **vals)
        (small | big).addon_product_ids = self.product_addon
        return small, big

    def _run(self, day):
        self._run_night(day)

    def _docs(self, contract):
        return self.env["account.move"].search([("rbm_contract_id", "=", contract.id)], order="id")

    def _signed_total(self, moves):
        return round(sum(m.amount_total_signed for m in moves), 2)

    def test_plan_change_says_what_happens_to_addons_and_fees(self):
        """The preview names the add-ons kept (the new plan offers them) and
        ended (it does not), and the fee installments left; what the customer
        pays now and on the next invoice. Confirming ends only the add-ons the
        new plan does not offer."""
        seats = self._make_product("Extra storage", 20.0)
        small = self._make_plan(
            [(self.product_plan, 1, 100.0), (self.product_fee, 1, 90.0)], name="Small"
        )
        big = self._make_plan([(self.product_big, 1, 200.0)], name="Big")
        small.addon_product_ids = self.product_addon | seats
        big.addon_product_ids = self.product_addon
        contract = self._make_contract(small, d("2026-11-01"))
        Change = self.env["rbm.contract.change"]
        with freeze_time("2026-11-01"):
            Change._request(contract, "addon_add", product=self.product_addon, quantity=1)
            Change._request(contract, "addon_add", product=seats, quantity=1)
        self._run("2026-11-01")
        with freeze_time("2026-11-16"):
            wizard = Form(
                self.env["rbm.contract.change.wizard"].with_context(default_contract_id=contract.id)
            )
            wizard.kind = "plan"
            wizard.new_plan_id = big
            preview = wizard.preview
            self.assertIn("Add-on Backup add-on is kept: plan Big offers it.", preview)
            self.assertIn(
                "Add-on Extra storage ends with the change: plan Big does not offer it.", preview
            )
            # a fee of 90.00 in 3 installments, the first billed on 01/11
            self.assertIn("Setup fee: the 2 installments left are still billed.", preview)
            # upgrade now (plan defaults), 15 of November's 30 days left: the
            # new plan's 200.00 for them is invoiced now (100.00); the unused
            # half of the old plan (-50.00) and of the ended add-on (-10.00)
            # is deducted from the next invoice, which bills the new price of
            # the period, 200.00 + 30.00 (kept add-on): 230 - 60 = 170.00
            totals = re.search(r"pays (.+?) now; the next invoice is (.+?)\.<", preview)
            self.assertTrue(totals, preview)
            self.assertIn("100.00", totals.group(1))
            self.assertIn("170.00", totals.group(2))
            wizard.save().action_confirm()
        current = contract.line_ids.filtered("is_current")
        self.assertIn(self.product_addon, current.product_id)
        self.assertNotIn(seats, current.product_id)
        self.assertIn(self.product_fee, current.product_id)

    def test_upgrade_now_in_advance(self):
        small, big = self._plans()
        contract = self._make_contract(small, d("2026-11-01"))
        self._run("2026-11-01")
        with freeze_time("2026-11-16"):
            change = self.env["rbm.contract.change"]._request(contract, "plan", new_plan=big)
        self.assertEqual(
            (change.state, change.direction, change.date), ("applied", "upgrade", d("2026-11-16"))
        )
        self.assertEqual(contract.plan_id, big)
        old_line = contract.line_ids.filtered(lambda ln: ln.product_id == self.product_plan)
        new_line = contract.line_ids.filtered(lambda ln: ln.product_id == self.product_big)
        self.assertEqual(
            (old_line.date_end, new_line.date_start), (d("2026-11-15"), d("2026-11-16"))
        )
        # remaining 15 of 30 days of the new price invoiced now; unused part of the old one
        # deducted on the next invoice (plan defaults)
        self.assertEqual(change.move_ids.amount_total, 100.0)
        self.assertEqual(change.charge_ids.mapped("amount"), [-50.0])
        self.assertEqual(change.credit_amount, 50.0)
        self.assertEqual(contract.mrr, 200.0)
        self._run("2026-12-01")
        december = self._docs(contract).filtered(lambda m: m.rbm_period_start == d("2026-12-01"))
        self.assertEqual(december.amount_total, 150.0)
        self.assertEqual(change.charge_ids.state, "invoiced")
        events = contract.mrr_event_ids.sorted("id")
        self.assertEqual(events.mapped("event_type"), ["new", "expansion"])
        self.assertEqual(events.mapped("delta"), [100.0, 100.0])
        self.assertEqual(events[1].reason, "upgrade")

    def test_plan_change_is_provisioned_to_the_old_plans_endpoints(self):
        small, big = self._plans()
        endpoint = self.env["rbm.provisioning.endpoint"].create(
            {
                "name": "Small plan app",
                "url": "https://app.example.com/hook",
                "plan_ids": [Command.set(small.ids)],
            }
        )
        contract = self._make_contract(small, d("2026-11-01"))
        with freeze_time("2026-11-16"):
            self.env["rbm.contract.change"]._request(contract, "plan", new_plan=big)
        events = self.env["rbm.provisioning.event"].search([("endpoint_id", "=", endpoint.id)])
        self.assertEqual(sorted(events.mapped("event_type")), ["activated", "plan_changed"])
        payload = json.loads(events.filtered(lambda e: e.event_type == "plan_changed").payload)
        self.assertEqual(payload["plan"]["id"], big.id)
        self.assertEqual(payload["previous"]["plan"]["id"], small.id)

    def test_downgrade_waits_for_the_period_end(self):
        small, big = self._plans()
        contract = self._make_contract(big, d("2026-11-01"))
        self._run("2026-11-01")
        with freeze_time("2026-11-16"):
            change = self.env["rbm.contract.change"]._request(contract, "plan", new_plan=small)
        self.assertEqual((change.state, change.date), ("scheduled", d("2026-12-01")))
        self.assertEqual(contract.plan_id, big)
        self.assertFalse(change.move_ids or change.charge_ids)
        self._run("2026-12-01")
        self.assertEqual(change.state, "applied")
        self.assertEqual(contract.plan_id, small)
        december = self._docs(contract).filtered(lambda m: m.rbm_period_start == d("2026-12-01"))
        self.assertEqual(december.amount_total, 100.0)
        event = contract.mrr_event_ids.filtered(lambda e: e.event_type == "contraction")
        self.assertEqual(
            (event.date, event.delta, event.reason), (d("2026-12-01"), -100.0, "downgrade")
        )

    def test_scheduled_change_that_no_longer_applies_is_reported(self):
        small, big = self._plans()
        contract = self._make_contract(big, d("2026-11-01"))
        with freeze_time("2026-11-16"):
            change = self.env["rbm.contract.change"]._request(contract, "plan", new_plan=small)
        small.billing_mode = "arrears"  # the plan changed meanwhile
        with freeze_time("2026-12-01"):
            self.env["rbm.billing.run"]._run_lifecycle(d("2026-12-01"))
        self.assertEqual(change.state, "cancelled")
        self.assertEqual(contract.plan_id, big)
        self.assertIn("could not be applied", contract.message_ids[0].body)
        self._run("2026-12-01")
        self.assertEqual(len(self._docs(contract)), 2)

    def test_upgrade_in_arrears_splits_the_period(self):
        small, big = self._plans(billing_mode="arrears")
        contract = self._make_contract(small, d("2026-11-01"))
        with freeze_time("2026-11-11"):
            change = self.env["rbm.contract.change"]._request(contract, "plan", new_plan=big)
        self.assertFalse(change.move_ids or change.charge_ids)
        self._run("2026-12-01")
        invoice = self._docs(contract)
        self.assertEqual(invoice.invoice_line_ids.mapped("price_subtotal"), [33.33, 133.33])
        self.assertEqual(
            invoice.invoice_line_ids.mapped("name"),
            ["Plan Pro — 11/01/2026 to 11/10/2026", "Plan Business — 11/11/2026 to 11/30/2026"],
        )

    def test_arrears_change_both_day_counts_in_a_31_day_month(self):
        for day_count, expected in (("actual", [48.39, 103.23]), ("commercial", [50.0, 100.0])):
            small, big = self._plans(billing_mode="arrears", proration_day_count=day_count)
            contract = self._make_contract(small, d("2026-12-01"))
            with freeze_time("2026-12-16"):
                self.env["rbm.contract.change"]._request(contract, "plan", new_plan=big)
            self._bill(contract, d("2027-01-01"))
            self.assertEqual(
                self._docs(contract).invoice_line_ids.mapped("price_subtotal"), expected, day_count
            )

    def test_several_changes_in_one_period_add_up(self):
        small, big = self._plans(
            credit_policy="credit_note", charge_policy="invoice_now", cancel_refund=True
        )
        contract = self._make_contract(small, d("2026-11-01"))
        self._run("2026-11-01")
        Change = self.env["rbm.contract.change"]
        with freeze_time("2026-11-11"):
            Change._request(contract, "plan", new_plan=big)
        with freeze_time("2026-11-21"):
            line = contract.line_ids.filtered("is_current")
            Change._request(contract, "quantity", line=line, quantity=2.0)
        with freeze_time("2026-11-26"):
            contract._cancel(self.env.ref("rbm_recurring.cancel_reason_price"), "now")
        self.assertEqual(contract.state, "cancelled")
        docs = self._docs(contract)
        self.assertEqual(
            sorted(docs.mapped("amount_total_signed")),
            sorted([100.0, -66.67, 133.33, -66.67, 133.33, -53.33]),
        )
        # 100 x 10/30 + 200 for days 11-20 + 400 for days 21-26, exactly
        self.assertEqual(self._signed_total(docs), 33.33 + 66.66 + 80.0)
        self.assertEqual(
            docs.filtered(lambda m: m.move_type == "out_refund").mapped("state"), ["posted"] * 3
        )
        self.assertEqual(
            contract.mrr_event_ids.sorted("id").mapped("event_type"),
            ["new", "expansion", "expansion", "churn"],
        )
        # nothing billed after the cancellation
        self._run("2026-12-01")
        self.assertEqual(len(self._docs(contract)), 6)

    def test_upgrade_then_downgrade_then_cancel_in_one_period(self):
        small, big = self._plans(
            credit_policy="credit_note", charge_policy="invoice_now", cancel_refund=True
        )
        contract = self._make_contract(small, d("2026-11-01"))
        self._run("2026-11-01")
        Change = self.env["rbm.contract.change"]
        with freeze_time("2026-11-11"):
            Change._request(contract, "plan", new_plan=big)
        with freeze_time("2026-11-21"):
            down = Change._request(contract, "plan", new_plan=small, timing="now")
        self.assertEqual((down.direction, down.state), ("downgrade", "applied"))
        with freeze_time("2026-11-26"):
            contract._cancel(self.env.ref("rbm_recurring.cancel_reason_price"), "now")
        docs = self._docs(contract)
        self.assertEqual(
            sorted(docs.mapped("amount_total_signed")),
            sorted([100.0, -66.67, 133.33, -66.67, 33.33, -13.33]),
        )
        # 100 x 10/30 + 200 for days 11-20 + 100 for days 21-26, exactly
        self.assertEqual(self._signed_total(docs), 33.33 + 66.66 + 20.0)
        self.assertEqual(
            contract.mrr_event_ids.sorted("id").mapped("event_type"),
            ["new", "expansion", "contraction", "churn"],
        )

    def test_addons_added_and_removed(self):
        small, _big = self._plans()
        contract = self._make_contract(small, d("2026-11-01"))
        self._run("2026-11-01")
        Change = self.env["rbm.contract.change"]
        with freeze_time("2026-11-16"):
            added = Change._request(contract, "addon_add", product=self.product_addon, quantity=2)
        self.assertEqual(added.move_ids.amount_total, 30.0)  # 60 x 15/30
        addon = contract.line_ids.filtered("is_addon")
        self.assertEqual((addon.quantity, addon.date_start), (2.0, d("2026-11-16")))
        with freeze_time("2026-11-21"):
            removed = Change._request(contract, "addon_remove", line=addon)
        self.assertEqual(removed.state, "scheduled")  # a downgrade: at period end
        self._run("2026-12-01")
        self.assertEqual(addon.date_end, d("2026-11-30"))
        self.assertEqual(contract.mrr, 100.0)
        with self.assertRaisesRegex(ValidationError, "not an add-on allowed"):
            Change._request(contract, "addon_add", product=self.product_big)

    def test_refused_changes_change_nothing(self):
        small, _big = self._plans()
        contract = self._make_contract(small, d("2026-11-01"))
        lines = contract.line_ids
        usd = self.env.ref("base.EUR") if self.currency.name != "EUR" else self.env.ref("base.USD")
        usd.active = True
        other_currency = self._make_plan([(self.product_big, 1, 200.0)], currency_id=usd.id)
        yearly = self._make_plan([(self.product_big, 1, 2000.0)], interval_unit="year")
        other_company = self.env["res.company"].create({"name": "Other company"})
        foreign = self._make_plan([(self.product_big, 1, 200.0)], company_id=other_company.id)
        Change = self.env["rbm.contract.change"]
        with self.assertRaisesRegex(ValidationError, "cannot switch currencies"):
            Change._request(contract, "plan", new_plan=other_currency)
        with self.assertRaisesRegex(ValidationError, "keep the billing period"):
            Change._request(contract, "plan", new_plan=yearly)
        with self.assertRaisesRegex(ValidationError, "another company"):
            Change._request(contract, "plan", new_plan=foreign)
        with self.assertRaisesRegex(ValidationError, "field Quantity"):
            Change._request(contract, "quantity", line=lines, quantity=-1)
        self.assertEqual(contract.line_ids, lines)
        self.assertFalse(lines.date_end)
        self.assertFalse(contract.change_ids)

    def test_wizard_previews_the_amounts(self):
        small, big = self._plans(credit_policy="credit_note")
        contract = self._make_contract(small, d("2026-11-01"))
        self._run("2026-11-01")
        with freeze_time("2026-11-16"):
            action = contract.action_change_wizard()
            wizard_form = Form(self.env[action["res_model"]].with_context(action["context"]))
            wizard_form.kind = "plan"
            wizard_form.new_plan_id = big
            self.assertEqual(wizard_form.effective_date, d("2026-11-16"))
            self.assertIn("-50.00", wizard_form.preview)
            self.assertIn("100.00", wizard_form.preview)
            self.assertIn("credit note now", wizard_form.preview)
            wizard = wizard_form.save()
            self.assertFalse(contract.change_ids)  # the preview wrote nothing
            wizard.action_confirm()
        self.assertEqual(contract.plan_id, big)
        self.assertEqual(
            contract.change_ids.move_ids.mapped("move_type"), ["out_refund", "out_invoice"]
        )


@tagged("post_install", "-at_install")
class TestContractLifecycle(RbmBillingCase):
    def _run(self, day):
        return self._run_night(day)

    def test_trial_becomes_active_or_expires(self):
        plan = self._make_plan(trial_days=14, trial_requires_payment=True, trial_reminder_days=3)
        paying = self._make_contract(plan, d("2026-11-01"), payment_mode="invoice")
        leaving = self._make_contract(plan, d("2026-11-01"), partner=self.customer_b)
        self.assertEqual((paying.state, paying.trial_end), ("trial", d("2026-11-14")))
        self._run("2026-11-01")
        self.assertFalse(self._invoices(paying) | self._invoices(leaving))
        self._run("2026-11-11")
        self.assertTrue(paying.trial_reminder_sent)
        self.assertIn("trial ends", paying.message_ids[0].subject or "")
        self._run("2026-11-15")
        self.assertEqual((paying.state, leaving.state), ("active", "expired"))
        self.assertEqual(self._periods(paying), [(d("2026-11-15"), d("2026-12-14"))])
        self.assertFalse(self._invoices(leaving))
        self.assertEqual(paying.mrr_event_ids.mapped("event_type"), ["new"])
        self.assertEqual(paying.mrr_event_ids.date, d("2026-11-15"))
        self.assertFalse(leaving.mrr_event_ids)

    def test_campaign_for_three_periods(self):
        plan = self._make_plan()
        campaign = self.env["rbm.campaign"].create(
            {
                "name": "Welcome",
                "code": "WELCOME20",
                "discount_type": "percent",
                "discount_value": 20,
                "period_count": 3,
                "plan_ids": [Command.set(plan.ids)],
                "max_redemptions": 1,
            }
        )
        contract = self._make_contract(
            plan, d("2026-11-01"), activate=False, campaign_id=campaign.id
        )
        contract.action_activate()
        self.assertEqual(contract.mrr, 80.0)
        self._run("2027-02-01")
        self.assertEqual(self._invoices(contract).mapped("amount_total"), [80.0, 80.0, 80.0, 100.0])
        discount = self._invoices(contract)[0].invoice_line_ids[-1]
        self.assertEqual(discount.name, "Campaign WELCOME20 — Welcome (period 1 of 3)")
        self.assertEqual(contract.campaign_periods_left, 0)
        self.assertEqual(contract.mrr, 100.0)
        end = contract.mrr_event_ids.filtered(lambda e: e.reason == "campaign_end")
        self.assertEqual(
            (end.date, end.delta, end.event_type), (d("2027-02-01"), 20.0, "expansion")
        )
        second = self._make_contract(
            plan, d("2026-11-01"), activate=False, campaign_id=campaign.id, partner=self.customer_b
        )
        with self.assertRaisesRegex(ValidationError, "reached its limit"):
            second.action_activate()

    def test_renewal_notice_and_renewal(self):
        plan = self._make_plan(
            commitment_months=12,
            commitment_end_action="renew",
            renewal_months=12,
            renewal_notice_days=30,
        )
        contract = self._make_contract(plan, d("2026-01-01"))
        self.assertEqual(contract.commitment_end, d("2026-12-31"))
        self._run("2026-12-01")
        self.assertEqual(contract.renewal_notice_sent, d("2026-12-31"))
        self.assertIn("renewal", contract.message_ids[0].subject or "")
        self._run("2027-01-01")
        self.assertEqual(contract.commitment_end, d("2027-12-31"))
        self.assertEqual(contract.state, "active")
        self.assertIn(d("2027-01-01"), self._invoices(contract).mapped("rbm_period_start"))

    def test_expiry_without_renewal(self):
        plan = self._make_plan(commitment_months=3, commitment_end_action="end")
        contract = self._make_contract(plan, d("2026-09-01"))
        self.assertEqual(contract.date_end, d("2026-11-30"))
        self._run("2026-12-01")
        self.assertEqual(contract.state, "expired")
        self.assertEqual(len(self._invoices(contract)), 3)
        churn = contract.mrr_event_ids.filtered(lambda e: e.event_type == "churn")
        self.assertEqual(
            (churn.date, churn.delta, churn.reason), (d("2026-12-01"), -100.0, "expiry")
        )

    def test_cancellation_inside_the_commitment_costs_the_fee(self):
        plan = self._make_plan(
            commitment_months=12,
            early_termination_fee_type="percent",
            early_termination_fee=50.0,
            cancel_refund=True,
        )
        contract = self._make_contract(plan, d("2026-01-01"))
        self._run("2026-06-01")
        with freeze_time("2026-06-10"):
            action = contract.action_cancel_wizard()
            wizard_form = Form(self.env[action["res_model"]].with_context(action["context"]))
            wizard_form.reason_id = self.env.ref("rbm_recurring.cancel_reason_price")
            wizard_form.timing = "now"
            self.assertIn("350.00", wizard_form.preview)
            wizard_form.save().action_confirm()
        self.assertEqual(contract.state, "cancelled")
        self.assertEqual(contract.date_end, d("2026-06-10"))
        refund = self.env["account.move"].search(
            [("rbm_contract_id", "=", contract.id), ("move_type", "=", "out_refund")]
        )
        self.assertEqual(refund.amount_total, 66.67)  # June 11-30 of 30 days
        fee = self.env["account.move"].search(
            [
                ("rbm_contract_id", "=", contract.id),
                ("move_type", "=", "out_invoice"),
                ("rbm_period_start", "=", False),
            ]
        )
        # 7 months left (June 11 - December 31, rounded up) x 100 x 50%
        self.assertEqual(fee.amount_total, 350.0)
        self.assertEqual(
            fee.invoice_line_ids.product_id,
            self.env.ref("rbm_recurring.product_rbm_early_termination"),
        )
        self.assertEqual(
            contract.cancel_reason_id, self.env.ref("rbm_recurring.cancel_reason_price")
        )

    def test_cancellation_at_period_end(self):
        contract = self._make_contract(self._make_plan(), d("2026-11-01"))
        self._run("2026-11-01")
        with freeze_time("2026-11-10"):
            contract._cancel(self.env.ref("rbm_recurring.cancel_reason_not_used"), "period_end")
        self.assertEqual((contract.state, contract.date_end), ("active", d("2026-11-30")))
        self._run("2026-12-01")
        self.assertEqual(contract.state, "cancelled")
        self.assertEqual(len(self._invoices(contract)), 1)

    def test_suspension_pauses_or_keeps_billing(self):
        paused = self._make_contract(self._make_plan(suspension_billing="pause"), d("2026-11-01"))
        kept = self._make_contract(
            self._make_plan(suspension_billing="keep"), d("2026-11-01"), partner=self.customer_b
        )
        self._run("2026-11-01")
        with freeze_time("2026-11-10"):
            (paused | kept)._suspend()
        self.assertEqual(paused.mrr_event_ids.sorted("id").mapped("event_type"), ["new", "churn"])
        self.assertEqual(kept.mrr_event_ids.mapped("event_type"), ["new"])
        self._run("2026-12-01")
        self.assertEqual(len(self._invoices(paused)), 1)
        self.assertEqual(len(self._invoices(kept)), 2)
        with freeze_time("2026-12-20"):
            paused._reactivate()
        self.assertEqual(paused.mrr_event_ids.sorted("id")[-1].event_type, "reactivation")
        self._run("2026-12-20")
        # December 20-31 of 31 days, nothing for the days suspended
        self.assertEqual(self._periods(paused)[-1], (d("2026-12-20"), d("2026-12-31")))
        self.assertEqual(self._invoices(paused)[-1].amount_total, 38.71)

    def test_suspension_in_arrears_bills_the_days_used(self):
        contract = self._make_contract(
            self._make_plan(suspension_billing="pause", billing_mode="arrears"), d("2026-11-01")
        )
        with freeze_time("2026-11-16"):
            contract._suspend()
        self.assertEqual(self._periods(contract), [(d("2026-11-01"), d("2026-11-15"))])
        self.assertEqual(self._invoices(contract).amount_total, 50.0)
        with freeze_time("2026-11-21"):
            contract._reactivate()
        self._run("2026-12-01")
        self.assertEqual(self._periods(contract)[-1], (d("2026-11-21"), d("2026-11-30")))
        self.assertEqual(self._invoices(contract)[-1].amount_total, 33.33)

    def test_cancelled_in_arrears_bills_the_last_days(self):
        contract = self._make_contract(self._make_plan(billing_mode="arrears"), d("2026-11-01"))
        with freeze_time("2026-11-10"):
            contract._cancel(self.env.ref("rbm_recurring.cancel_reason_price"), "now")
        self._run("2026-11-11")
        self.assertEqual(self._periods(contract), [(d("2026-11-01"), d("2026-11-10"))])
        self.assertEqual(self._invoices(contract).amount_total, 33.33)
        with self.assertRaises(UserError):
            contract._cancel(timing="now")

    def test_mrr_events_are_normalised_to_a_month(self):
        yearly = self._make_plan([(self.product_plan, 1, 1200.0)], interval_unit="year")
        contract = self._make_contract(yearly, date(2026, 11, 1))
        self.assertEqual(contract.mrr_event_ids.mapped("mrr_after"), [100.0])
