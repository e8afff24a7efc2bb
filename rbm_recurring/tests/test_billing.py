from datetime import timedelta

import psycopg2
from freezegun import freeze_time

from odoo import Command, fields
from odoo.exceptions import UserError
from odoo.tests import Form, tagged
from odoo.tools import mute_logger

from .common import RbmBillingCase, d


@tagged("post_install", "-at_install")
class TestBillingPeriods(RbmBillingCase):
    def test_advance_monthly_from_the_31st_across_february(self):
        plan = self._make_plan(interval_unit="month", interval=1, billing_mode="advance")
        contract = self._make_contract(plan, d("2027-01-31"))
        self.assertEqual(contract.next_invoice_date, d("2027-01-31"))
        with freeze_time("2027-01-31"):
            result = self._bill(contract, fields.Date.today())
        self.assertEqual(len(result["moves"]), 1)
        move = result["moves"]
        self.assertEqual(move.state, "posted")
        self.assertEqual(move.invoice_date, d("2027-01-31"))
        self.assertEqual(
            (move.rbm_period_start, move.rbm_period_end), (d("2027-01-31"), d("2027-02-27"))
        )
        self.assertEqual(move.invoice_line_ids.name, "Plan Pro — 01/31/2027 to 02/27/2027")
        self.assertEqual(move.amount_total, 100.0)
        self.assertEqual(contract.next_invoice_date, d("2027-02-28"))
        # two months later: the two missed periods come back to the 31st
        self._bill(contract, d("2027-03-31"))
        self.assertEqual(
            self._periods(contract),
            [
                (d("2027-01-31"), d("2027-02-27")),
                (d("2027-02-28"), d("2027-03-30")),
                (d("2027-03-31"), d("2027-04-29")),
            ],
        )
        self.assertEqual(contract.next_invoice_date, d("2027-04-30"))

    def test_advance_monthly_leap_year(self):
        plan = self._make_plan()
        contract = self._make_contract(plan, d("2028-01-31"))
        self._bill(contract, d("2028-03-01"))
        self.assertEqual(
            self._periods(contract),
            [(d("2028-01-31"), d("2028-02-28")), (d("2028-02-29"), d("2028-03-30"))],
        )

    def test_arrears_monthly_bills_the_past_period_after_it_ends(self):
        plan = self._make_plan(billing_mode="arrears")
        contract = self._make_contract(plan, d("2026-11-01"))
        self.assertEqual(contract.next_invoice_date, d("2026-12-01"))
        with freeze_time("2026-11-30"):
            self.env["rbm.billing.run"]._cron_billing_run()
        self.assertFalse(self._invoices(contract))
        with freeze_time("2026-12-01"):
            self.env["rbm.billing.run"]._cron_billing_run()
        move = self._invoices(contract)
        self.assertEqual(len(move), 1)
        self.assertEqual(move.invoice_date, d("2026-12-01"))
        self.assertEqual(
            (move.rbm_period_start, move.rbm_period_end), (d("2026-11-01"), d("2026-11-30"))
        )
        self.assertEqual(contract.next_invoice_date, d("2027-01-01"))

    def test_quarterly_from_month_end(self):
        plan = self._make_plan(interval=3)
        contract = self._make_contract(plan, d("2026-11-30"))
        self._bill(contract, d("2027-05-30"))
        self.assertEqual(
            self._periods(contract),
            [
                (d("2026-11-30"), d("2027-02-27")),
                (d("2027-02-28"), d("2027-05-29")),
                (d("2027-05-30"), d("2027-08-29")),
            ],
        )
        self.assertEqual(contract.mrr, 33.33)

    def test_quarterly_in_arrears(self):
        plan = self._make_plan(interval=3, billing_mode="arrears")
        contract = self._make_contract(plan, d("2026-12-31"))
        self._bill(contract, d("2027-03-30"))
        self.assertFalse(self._invoices(contract))
        self._bill(contract, d("2027-03-31"))
        self.assertEqual(self._periods(contract), [(d("2026-12-31"), d("2027-03-30"))])
        self.assertEqual(self._invoices(contract).invoice_date, d("2027-03-31"))

    def test_yearly_from_february_29(self):
        plan = self._make_plan(interval_unit="year", interval=1)
        contract = self._make_contract(plan, d("2028-02-29"))
        self._bill(contract, d("2029-03-01"))
        self.assertEqual(
            self._periods(contract),
            [(d("2028-02-29"), d("2029-02-27")), (d("2029-02-28"), d("2030-02-27"))],
        )
        self.assertEqual(contract.mrr, 8.33)

    def test_weekly_and_daily_periods(self):
        weekly = self._make_contract(
            self._make_plan(interval_unit="week", interval=2), d("2026-11-02")
        )
        self._bill(weekly, d("2026-11-30"))
        self.assertEqual(
            self._periods(weekly),
            [
                (d("2026-11-02"), d("2026-11-15")),
                (d("2026-11-16"), d("2026-11-29")),
                (d("2026-11-30"), d("2026-12-13")),
            ],
        )


@tagged("post_install", "-at_install")
class TestBillingProration(RbmBillingCase):
    def test_first_partial_period_actual_days(self):
        plan = self._make_plan(
            [(self.product_plan, 1, 100.0), (self.product_seat, 3, 33.33)],
            alignment="fixed_day",
            billing_day=1,
        )
        contract = self._make_contract(plan, d("2026-12-10"))
        self.assertEqual(contract.period_anchor, d("2027-01-01"))
        self._bill(contract, d("2026-12-10"))
        first = self._invoices(contract)
        self.assertEqual(
            (first.rbm_period_start, first.rbm_period_end), (d("2026-12-10"), d("2026-12-31"))
        )
        # 22 of 31 days: 100 x 22/31 = 70.97; 99.99 x 22/31 = 70.96
        self.assertEqual(first.invoice_line_ids.mapped("price_subtotal"), [70.97, 70.96])
        self.assertEqual(first.amount_untaxed, 141.93)
        self._bill(contract, d("2027-01-01"))
        second = self._invoices(contract)[1]
        self.assertEqual(
            (second.rbm_period_start, second.rbm_period_end), (d("2027-01-01"), d("2027-01-31"))
        )
        self.assertEqual(second.amount_untaxed, 199.99)
        self.assertEqual(second.invoice_line_ids[1].quantity, 3)

    def test_first_partial_period_commercial_month(self):
        plan = self._make_plan(
            [(self.product_plan, 1, 100.0), (self.product_seat, 3, 33.33)],
            alignment="fixed_day",
            billing_day=1,
            proration_day_count="commercial",
        )
        contract = self._make_contract(plan, d("2026-12-10"))
        self._bill(contract, d("2026-12-10"))
        first = self._invoices(contract)
        # 21 of 30 commercial days: 100 - R(100 x 9/30) = 70.00; 99.99 - R(99.99 x 9/30) = 69.99
        self.assertEqual(first.invoice_line_ids.mapped("price_subtotal"), [70.0, 69.99])
        # February counts as 30 days too: from Feb 15, 16 of 30 days
        contract2 = self._make_contract(plan, d("2027-02-15"))
        self._bill(contract2, d("2027-02-15"))
        self.assertEqual(self._invoices(contract2).invoice_line_ids[0].price_subtotal, 53.33)

    def test_fixed_billing_day_31_keeps_month_ends(self):
        plan = self._make_plan(alignment="fixed_day", billing_day=31)
        contract = self._make_contract(plan, d("2027-02-10"))
        self.assertEqual(contract.period_anchor, d("2027-02-28"))
        self._bill(contract, d("2027-04-30"))
        self.assertEqual(
            self._periods(contract),
            [
                (d("2027-02-10"), d("2027-02-27")),
                (d("2027-02-28"), d("2027-03-30")),
                (d("2027-03-31"), d("2027-04-29")),
                (d("2027-04-30"), d("2027-05-30")),
            ],
        )
        # first period: 18 of the 28 days of the period Jan 31..Feb 27
        first = self._invoices(contract)[0]
        self.assertEqual(first.amount_untaxed, 64.29)

    def test_end_date_prorates_the_last_period_and_stops(self):
        plan = self._make_plan()
        contract = self._make_contract(plan, d("2026-11-01"), date_end=d("2027-01-15"))
        self._bill(contract, d("2027-03-01"))
        self.assertEqual(
            self._periods(contract),
            [
                (d("2026-11-01"), d("2026-11-30")),
                (d("2026-12-01"), d("2026-12-31")),
                (d("2027-01-01"), d("2027-01-15")),
            ],
        )
        self.assertEqual(self._invoices(contract)[-1].amount_untaxed, 48.39)  # 15/31
        self.assertFalse(contract.next_invoice_date)

    def test_one_time_fee_split_over_first_invoices(self):
        plan = self._make_plan([(self.product_plan, 1, 100.0), (self.product_fee, 1, 100.0)])
        contract = self._make_contract(plan, d("2026-11-01"))
        self.assertEqual(contract.line_ids[1].installments, 3)
        self._bill(contract, d("2027-02-01"))
        invoices = self._invoices(contract)
        self.assertEqual(len(invoices), 4)
        fees = [
            sum(
                m.invoice_line_ids.filtered(lambda x: x.product_id == self.product_fee).mapped(
                    "price_subtotal"
                )
            )
            for m in invoices
        ]
        self.assertEqual(fees, [33.33, 33.34, 33.33, 0.0])
        self.assertIn("installment 2 of 3", invoices[1].invoice_line_ids[1].name)
        self.assertEqual(contract.recurring_total, 100.0)


@tagged("post_install", "-at_install")
class TestBillingRun(RbmBillingCase):
    def test_due_date_from_due_day(self):
        plan = self._make_plan(payment_term_id=self.term_30.id)
        contract = self._make_contract(plan, d("2026-11-16"), due_day=10)
        self._bill(contract, d("2026-12-16"))
        self.assertEqual(
            self._invoices(contract).mapped("invoice_date_due"), [d("2026-12-10"), d("2027-01-10")]
        )
        late = self._make_contract(plan, d("2027-02-05"), due_day=31)
        self._bill(late, d("2027-02-05"))
        self.assertEqual(self._invoices(late).invoice_date_due, d("2027-02-28"))

    def test_due_date_from_payment_term(self):
        plan = self._make_plan(payment_term_id=self.term_30.id)
        contract = self._make_contract(plan, d("2026-11-16"))
        self.assertEqual(contract.payment_term_id, self.term_30)
        self._bill(contract, d("2026-11-16"))
        move = self._invoices(contract)
        self.assertEqual(move.invoice_payment_term_id, self.term_30)
        self.assertEqual(move.invoice_date_due, d("2026-12-16"))

    def test_partner_preferred_due_day_is_the_default(self):
        self.customer_b.rbm_preferred_due_day = 20
        contract = self._make_contract(self._make_plan(), d("2026-11-01"), partner=self.customer_b)
        self.assertEqual(contract.due_day, 20)

    def test_double_run_bills_each_period_once(self):
        plan = self._make_plan()
        contracts = self._make_contract(plan, d("2026-11-01")) | self._make_contract(
            plan, d("2026-11-05"), partner=self.customer_b
        )
        with freeze_time("2026-11-05"):
            self.env["rbm.billing.run"]._cron_billing_run()
            self.env["rbm.billing.run"]._cron_billing_run()
        self.assertEqual(
            self.env["account.move"].search_count([("rbm_contract_id", "in", contracts.ids)]), 2
        )
        with (
            freeze_time("2026-11-05"),
            self.assertRaisesRegex(UserError, "Nothing to invoice today"),
        ):
            contracts[0].action_bill_now()

    def test_database_refuses_a_second_invoice_for_a_period(self):
        contract = self._make_contract(self._make_plan(), d("2026-11-01"))
        move = self._bill(contract, d("2026-11-01"))["moves"]
        with (
            mute_logger("odoo.sql_db"),
            self.assertRaises(psycopg2.IntegrityError),
            self.env.cr.savepoint(),
        ):
            move.copy(
                {
                    "rbm_contract_id": contract.id,
                    "rbm_period_start": move.rbm_period_start,
                    "invoice_date": move.invoice_date,
                }
            )
            self.env.flush_all()

    def test_catch_up_bills_every_missed_period_without_gaps(self):
        contract = self._make_contract(self._make_plan(), d("2026-05-31"))
        with freeze_time("2026-11-27"):
            self.env["rbm.billing.run"]._cron_billing_run()
        periods = self._periods(contract)
        self.assertEqual(len(periods), 6)
        for (_start, end), (next_start, _end) in zip(periods, periods[1:], strict=False):
            self.assertEqual(end + timedelta(days=1), next_start)
        self.assertEqual(periods[-1], (d("2026-10-31"), d("2026-11-29")))

    def test_failing_contract_does_not_block_the_others(self):
        plan = self._make_plan()
        good_a = self._make_contract(plan, d("2026-11-01"))
        bad = self._make_contract(plan, d("2026-11-01"), partner=self.customer_b)
        # a credit bigger than the price: posting a negative invoice is refused
        bad.line_ids = [
            Command.create(
                {"product_id": self.product_seat.id, "quantity": 1, "price_unit": -500.0}
            )
        ]
        good_b = self._make_contract(plan, d("2026-11-01"), partner=self.customer_b)
        with freeze_time("2026-11-02"):
            result = self.env["rbm.billing.run"]._cron_billing_run()
        self.assertEqual(result["moves"].rbm_contract_id, good_a | good_b)
        self.assertEqual(list(result["failed"]), [bad])
        self.assertFalse(self._invoices(bad))
        self.assertEqual(bad.next_period_start, d("2026-11-01"))
        self.assertIn("negative", bad.billing_error)
        self.assertEqual(bad.billing_error_date, d("2026-11-02"))
        self.assertIn("could not invoice", bad.message_ids[0].body)
        # not retried the same day, retried (and fixed) the next
        with freeze_time("2026-11-02"):
            self.assertFalse(self.env["rbm.billing.run"]._cron_billing_run()["failed"])
        bad.line_ids[-1].unlink()
        with freeze_time("2026-11-03"):
            self.env["rbm.billing.run"]._cron_billing_run()
        self.assertEqual(len(self._invoices(bad)), 1)
        self.assertFalse(bad.billing_error)

    def test_cron_works_in_batches_and_retriggers(self):
        plan = self._make_plan()
        contracts = self.env["rbm.contract"]
        for day in range(1, 6):
            contracts |= self._make_contract(plan, d(f"2026-11-0{day}"))
        cron = self.env.ref("rbm_recurring.ir_cron_rbm_billing_run")
        triggers = self.env["ir.cron.trigger"].search_count([("cron_id", "=", cron.id)])
        with freeze_time("2026-11-05"):
            first = self.env["rbm.billing.run"]._cron_billing_run(batch_size=2)
            self.assertEqual(len(first["moves"]), 2)
            self.assertGreater(
                self.env["ir.cron.trigger"].search_count([("cron_id", "=", cron.id)]), triggers
            )
            self.env["rbm.billing.run"]._cron_billing_run(batch_size=2)
            self.env["rbm.billing.run"]._cron_billing_run(batch_size=2)
        self.assertEqual(
            self.env["account.move"].search_count([("rbm_contract_id", "in", contracts.ids)]), 5
        )

    def test_real_cron_job(self):
        contract = self._make_contract(self._make_plan(), d("2026-11-01"))
        with freeze_time("2026-11-01"):
            self.env.ref("rbm_recurring.ir_cron_rbm_billing_run").method_direct_trigger()
        self.assertEqual(len(self._invoices(contract)), 1)

    def test_suspended_and_draft_contracts_are_not_billed(self):
        plan = self._make_plan()
        suspended = self._make_contract(plan, d("2026-11-01"))
        with freeze_time("2026-11-01"):
            suspended.action_suspend()
        draft = self._make_contract(plan, d("2026-11-01"), activate=False)
        with freeze_time("2026-11-01"):
            self.env["rbm.billing.run"]._cron_billing_run()
        self.assertFalse(self._invoices(suspended) | self._invoices(draft))
        with freeze_time("2026-11-01"):
            suspended.action_reactivate()
        self._bill(suspended, d("2026-11-01"))
        self.assertEqual(len(self._invoices(suspended)), 1)

    def test_posting_policies(self):
        draft_plan = self._make_plan(posting_policy="draft")
        send_plan = self._make_plan(posting_policy="post_send")
        draft = self._make_contract(draft_plan, d("2026-11-01"))
        sent = self._make_contract(send_plan, d("2026-11-01"))
        self._bill(draft | sent, d("2026-11-01"))
        self.assertEqual(self._invoices(draft).state, "draft")
        move = self._invoices(sent)
        self.assertEqual(move.state, "posted")
        self.assertTrue(move.sending_data)
        self.env.ref("account.ir_cron_account_move_send").method_direct_trigger()
        self.assertFalse(move.sending_data)
        self.assertTrue(move.is_move_sent)
        self.assertIn(self.customer_a, move.message_ids.partner_ids)

    def test_accounts_and_taxes_come_from_the_product(self):
        tax = self.env["account.tax"].create(
            {"name": "ISS 5%", "amount": 5.0, "type_tax_use": "sale"}
        )
        income = self.env["account.account"].create(
            {"name": "Subscription revenue", "code": "RBM4001", "account_type": "income"}
        )
        product = self._make_product("Taxed plan", 200.0, taxes=tax)
        product.property_account_income_id = income
        contract = self._make_contract(self._make_plan([(product, 1, 200.0)]), d("2026-11-01"))
        move = self._bill(contract, d("2026-11-01"))["moves"]
        self.assertEqual(move.invoice_line_ids.account_id, income)
        self.assertEqual(move.invoice_line_ids.tax_ids, tax)
        self.assertEqual(move.amount_total, 210.0)
        # payments and reconciliation are Odoo's own
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=move.ids
        ).create({})._create_payments()
        self.assertIn(move.payment_state, ("paid", "in_payment"))


@tagged("post_install", "-at_install")
class TestContractBackOffice(RbmBillingCase):
    def test_contract_form_copies_plan_lines_and_activates(self):
        plan = self._make_plan([(self.product_plan, 2, 90.0)], name="Pro")
        with Form(self.env["rbm.contract"]) as form:
            form.partner_id = self.customer_a
            form.plan_id = plan
            form.date_start = d("2026-11-01")
        contract = form.record
        self.assertTrue(contract.name.startswith("CTR/"))
        self.assertEqual(contract.line_ids.mapped("subtotal"), [180.0])
        contract.action_activate()
        self.assertEqual(contract.state, "active")
        self.assertEqual(contract.next_invoice_date, d("2026-11-01"))
        with freeze_time("2026-11-01"):
            action = contract.action_bill_now()
        self.assertEqual(action["res_model"], "account.move")
        self.assertEqual(contract.invoice_count, 1)

    def test_activation_without_recurring_line_is_refused(self):
        plan = self._make_plan([(self.product_fee, 1, 100.0)])
        contract = self._make_contract(plan, d("2026-11-01"), activate=False)
        with self.assertRaisesRegex(UserError, "no recurring line"):
            contract.action_activate()

    def test_partner_mrr_and_contracts(self):
        company = self.env["res.partner"].create({"name": "Grupo Gama", "is_company": True})
        contact = self.env["res.partner"].create({"name": "Ana", "parent_id": company.id})
        self._make_contract(self._make_plan(interval=3), d("2026-11-01"), partner=contact)
        self._make_contract(self._make_plan(), d("2026-11-01"), partner=company)
        self.assertEqual(company.rbm_contract_count, 2)
        self.assertAlmostEqual(company.rbm_mrr, 133.33)
        action = company.action_view_rbm_contracts()
        self.assertEqual(self.env["rbm.contract"].search_count(action["domain"]), 2)

    def test_invalid_values_are_refused_with_the_field_named(self):
        with self.assertRaisesRegex(Exception, "Fixed billing day|fixed billing day"):
            self._make_plan(interval_unit="week", alignment="fixed_day")
        plan = self._make_plan()
        with self.assertRaisesRegex(Exception, "End Date"):
            self._make_contract(plan, d("2026-11-10"), date_end=d("2026-11-01"))
        with self.assertRaisesRegex(Exception, "Preferred Due Day"):
            self.customer_a.rbm_preferred_due_day = 40


@tagged("post_install", "-at_install")
class TestBillingInPortuguese(RbmBillingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("pt_BR")
        cls.env["ir.module.module"]._load_module_terms(["rbm_recurring"], ["pt_BR"])

    def test_invoice_lines_speak_the_customers_language(self):
        self.customer_a.lang = "pt_BR"
        plan = self._make_plan([(self.product_plan, 1, 100.0), (self.product_fee, 1, 100.0)])
        contract = self._make_contract(plan, d("2026-11-01"))
        move = self._bill(contract, d("2026-11-01"))["moves"]
        self.assertEqual(
            move.invoice_line_ids.mapped("name"),
            ["Plan Pro — 01/11/2026 a 30/11/2026", "Setup fee — parcela 1 de 3"],
        )
        self.assertEqual(contract.with_context(lang="pt_BR").plan_id.period_label, "Mensal")
