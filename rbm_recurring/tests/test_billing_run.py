"""The billing run as a service (rbm.billing.run): explicit inputs, the
lifecycle in its own cron with each contract isolated, and transient
concurrency errors left to Odoo's retry instead of recorded as failures."""

from datetime import date

from freezegun import freeze_time
from psycopg2.errors import LockNotAvailable

from odoo import SUPERUSER_ID, api
from odoo.api import Transaction
from odoo.tests import TransactionCase, tagged
from odoo.tools import SQL, mute_logger

from .common import RbmBillingCase, commit_contracts, d


@tagged("post_install", "-at_install")
class TestBillingRunService(RbmBillingCase):
    def test_due_periods_are_computed_once_and_passed_to_the_state(self):
        """The periods a batch bills reach ``_prepare_billing_state`` as an
        argument: three monthly periods due (September to November) give three
        invoices, and the state hook saw exactly those three periods."""
        plan = self._make_plan()
        contract = self._make_contract(plan, d("2026-09-01"))
        Run = self.env["rbm.billing.run"]
        todo, _state = Run._prepare_batch(contract, d("2026-11-01"))
        self.assertEqual(
            [(c, p["start"], p["end"]) for c, p, _vals in todo],
            [
                (contract, d("2026-09-01"), d("2026-09-30")),
                (contract, d("2026-10-01"), d("2026-10-31")),
                (contract, d("2026-11-01"), d("2026-11-30")),
            ],
        )
        # preparing wrote nothing: the contract still starts in September
        self.assertEqual(contract.next_period_start, d("2026-09-01"))
        self.assertFalse(self._invoices(contract))

    def test_scheduled_change_applies_before_the_batch_is_prepared(self):
        """Three seats of 33,33 lowered to one on 10/10/2026 (a downgrade: at
        the period's end, 01/11/2026). Billing November alone — no lifecycle
        pass — applies the change first: 100,00 + 1 x 33,33 = 133,33."""
        plan = self._make_plan([(self.product_plan, 1, 100.0), (self.product_seat, 3, 33.33)])
        contract = self._make_contract(plan, d("2026-10-01"))
        october = self._bill(contract, d("2026-10-01"))["moves"]
        self.assertEqual(october.amount_untaxed, 199.99)
        seat = contract.line_ids.filtered(lambda line: line.product_id == self.product_seat)
        with freeze_time("2026-10-10"):
            change = self.env["rbm.contract.change"]._request(
                contract, "quantity", line=seat, quantity=1.0
            )
        self.assertEqual((change.state, change.date), ("scheduled", d("2026-11-01")))
        november = self._bill(contract, d("2026-11-01"))["moves"]
        self.assertEqual(change.state, "applied")
        self.assertEqual(november.amount_untaxed, 133.33)

    def test_billing_cron_leaves_the_lifecycle_to_its_own_cron(self):
        plan = self._make_plan(trial_days=14)
        contract = self._make_contract(plan, d("2026-11-01"))
        self.assertEqual((contract.state, contract.trial_end), ("trial", d("2026-11-14")))
        with freeze_time("2026-11-15"):
            self.env["rbm.billing.run"]._cron_billing_run()
        self.assertEqual(contract.state, "trial")
        with freeze_time("2026-11-15"):
            counts = self.env["rbm.billing.run"]._cron_lifecycle()
        self.assertEqual(contract.state, "active")
        self.assertEqual(counts["trial_end"], 1)
        lifecycle = self.env.ref("rbm_recurring.ir_cron_rbm_contract_lifecycle")
        billing = self.env.ref("rbm_recurring.ir_cron_rbm_billing_run")
        self.assertEqual(lifecycle.model_id.model, "rbm.billing.run")
        self.assertLess(lifecycle.nextcall.time(), billing.nextcall.time())

    def test_one_contract_failing_in_the_lifecycle_does_not_stop_the_others(self):
        """Two trials end on 14/11/2026; the database refuses to activate the
        first (a check constraint added for the test): it stays in trial with a
        note on its chatter, the second becomes active and is billed."""
        plan = self._make_plan(trial_days=14)
        refused = self._make_contract(plan, d("2026-11-01"))
        other = self._make_contract(plan, d("2026-11-01"), partner=self.customer_b)
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                "ALTER TABLE rbm_contract ADD CONSTRAINT rbm_test_refuse_activation "
                "CHECK (id <> %s OR state <> 'active')",
                refused.id,
            )
        )
        with mute_logger("odoo.sql_db", "odoo.addons.rbm_recurring.models.rbm_billing_run"):
            result = self._run_night("2026-11-15")
        self.assertEqual((refused.state, other.state), ("trial", "active"))
        self.assertIn("lifecycle run could not process", refused.message_ids[0].body)
        self.assertIn("rbm_test_refuse_activation", refused.message_ids[0].body)
        # (the run also bills whatever else the database holds: look at these two)
        moves = result["moves"].filtered(lambda m: m.rbm_contract_id in refused | other)
        self.assertEqual(moves.rbm_contract_id, other)
        self.assertEqual(moves.rbm_period_start, d("2026-11-15"))


@tagged("post_install", "-at_install")
class TestBillingRunTransientErrors(TransactionCase):
    """A lock the billing run cannot get is not the contract's failure: the
    error reaches the caller (Odoo retries the request, the cron runs again)
    and nothing is written on the contract."""

    def setUp(self):
        super().setUp()
        self.ids = commit_contracts(self, 1, date(2026, 11, 1), "Transient")[0]

    def test_lock_not_available_propagates_and_records_nothing(self):
        contract_id = self.ids[0]
        with self.registry.cursor() as holder, self.registry.cursor() as cr:
            # the test runner holds the registry lock: hand the registry over
            cr.transaction = Transaction(self.registry)
            env = api.Environment(cr, SUPERUSER_ID, {})
            contract = env["rbm.contract"].browse(contract_id)
            # another worker holds the customer's row: the invoice cannot refer
            # to it until that worker ends (the failure note would not need it)
            holder.execute(
                "SELECT id FROM res_partner WHERE id = %s FOR UPDATE", [contract.partner_id.id]
            )
            cr.execute("SET LOCAL lock_timeout = '300ms'")
            try:
                with (
                    freeze_time("2026-11-01"),
                    mute_logger("odoo.sql_db"),
                    self.assertRaises(LockNotAvailable),
                ):
                    env["rbm.billing.run"]._bill(contract, date(2026, 11, 1))
                # nothing written in this worker's transaction either
                contract.invalidate_recordset()
                self.assertFalse(contract.billing_error)
                self.assertFalse(contract.billing_error_date)
                self.assertEqual(contract.next_period_start, date(2026, 11, 1))
                self.assertFalse(
                    env["account.move"].search_count([("rbm_contract_id", "=", contract_id)])
                )
            finally:
                cr.rollback()
                holder.rollback()
