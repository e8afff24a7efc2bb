from datetime import date

import psycopg2
from freezegun import freeze_time

from odoo.exceptions import UserError, ValidationError
from odoo.tests import Form, tagged
from odoo.tools import mute_logger

from .common_card import RbmCardCase

DAY0 = date(2026, 3, 1)


@tagged("post_install", "-at_install")
class TestCardCharge(RbmCardCase):
    def _attempts(self, invoice):
        return invoice.rbm_card_attempt_ids.sorted("attempt_number")

    def _notes(self, invoice):
        return " ".join(invoice.message_ids.mapped("body"))

    def _assert_paid(self, invoice):
        self.assertTrue(invoice.currency_id.is_zero(invoice.amount_residual))
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))

    # ------------------------------------------------------------------
    # charge on post
    # ------------------------------------------------------------------

    def test_posted_invoice_is_charged_and_paid(self):
        token = self._make_token(self.customer, "done")
        invoice = self._bill_card_contract(token)
        # queued for the card run, which the posting triggered
        self.assertTrue(invoice.rbm_card_charge_due)
        self.assertFalse(invoice.rbm_card_attempt_ids)
        self.assertTrue(self.env["ir.cron.trigger"].search([("cron_id", "=", self.cron.id)]))
        self._run_cron(DAY0)
        attempt = invoice.rbm_card_attempt_ids
        self.assertEqual(len(attempt), 1)
        self.assertRecordValues(
            attempt,
            [
                {
                    "attempt_number": 1,
                    "origin": "post",
                    "state": "done",
                    "amount": 150.0,
                    "token_id": token.id,
                    "contract_id": invoice.rbm_contract_id.id,
                    "partner_id": self.customer.id,
                    "date": DAY0,
                    "next_retry_date": False,
                    "hard_decline": False,
                }
            ],
        )
        tx = attempt.transaction_id
        self.assertEqual(tx.operation, "offline")
        self.assertEqual(tx.state, "done")
        self.assertEqual(tx.invoice_ids, invoice)
        self.assertEqual(tx.amount, 150.0)
        self.assertTrue(tx.payment_id)
        self.assertEqual(tx.payment_id.amount, 150.0)
        self.assertFalse(invoice.rbm_card_charge_due)
        self._assert_paid(invoice)
        self.assertIn(
            "Card charge 1 of",
            " ".join(invoice.message_ids.mapped("body")),
        )
        self.assertEqual(invoice.rbm_card_attempt_count, 1)
        # nothing charged twice: the run again, a collection rule, the button
        self._run_cron(DAY0)
        self.assertFalse(invoice._rbm_charge_card("dunning"))
        with self.assertRaisesRegex(UserError, "nothing left to pay"):
            invoice.action_rbm_charge_card()
        self.assertEqual(len(invoice.rbm_card_attempt_ids), 1)
        self.assertEqual(len(invoice.transaction_ids), 1)

    def test_only_card_contracts_are_charged(self):
        boleto_invoice = self._bill_contract(payment_mode="boleto")
        self.assertFalse(boleto_invoice.rbm_card_charge_due)
        # a card contract without a saved card: not charged, and why
        token = self._make_token(self.customer, "done")
        invoice = self._bill_card_contract(token, start=date(2026, 4, 1))
        invoice.rbm_contract_id.payment_token_id = False
        self._run_cron(date(2026, 4, 1))
        self.assertFalse(invoice.rbm_card_attempt_ids)
        self.assertFalse(invoice.rbm_card_charge_due)
        self.assertIn("has no saved card", self._notes(invoice))
        self.assertFalse(boleto_invoice.rbm_card_attempt_ids)
        # an explicit card works for a collection rule
        attempt = invoice._rbm_charge_card("dunning", token=token)
        self.assertEqual(attempt.state, "done")
        self._assert_paid(invoice)

    def test_card_of_another_customer_is_refused(self):
        other = self.env["res.partner"].create({"name": "João Silva"})
        token = self._make_token(self.customer, "done")
        invoice = self._bill_card_contract(token)
        other_token = self._make_token(other, "done")
        self.assertIn(
            "belongs to another customer", invoice._rbm_get_card_charge_refusal(other_token)
        )
        self.assertFalse(invoice._rbm_charge_card("dunning", token=other_token))
        self.assertFalse(invoice.rbm_card_attempt_ids)
        self.assertFalse(invoice.transaction_ids)
        # a removed card is not charged either
        token.active = False
        self.assertIn("was removed", invoice._rbm_get_card_charge_refusal())

    # ------------------------------------------------------------------
    # failures and retries
    # ------------------------------------------------------------------

    def test_failure_is_retried_on_schedule_until_success(self):
        token = self._make_token(self.customer, "error")
        invoice = self._bill_card_contract(token)
        self._run_cron(DAY0)
        first = invoice.rbm_card_attempt_ids
        self.assertRecordValues(
            first,
            [
                {
                    "attempt_number": 1,
                    "state": "failed",
                    "hard_decline": False,
                    "next_retry_date": date(2026, 3, 2),
                }
            ],
        )
        self.assertIn("error", first.reason)
        self.assertEqual(first.reason, first.transaction_id.state_message)
        self.assertEqual(invoice.payment_state, "not_paid")
        self.assertIn("Next attempt on", self._notes(invoice))
        # each retry day charges once, whatever the number of runs
        expected_days = {date(2026, 3, 2): 2, date(2026, 3, 4): 3, date(2026, 3, 6): 4}
        day = DAY0
        for offset in range(1, 6):
            day = date(2026, 3, 1 + offset)
            self._run_cron(day)
            self._run_cron(day)
            if day in expected_days:
                with freeze_time(day):
                    # a collection rule the day of a retry charges nothing more
                    self.assertFalse(invoice._rbm_charge_card("dunning"))
            attempts = self._attempts(invoice)
            self.assertEqual(
                len(attempts),
                max([1] + [n for d, n in expected_days.items() if d <= day]),
                f"attempts on {day}",
            )
        attempts = self._attempts(invoice)
        self.assertEqual(attempts.mapped("origin"), ["post", "retry", "retry", "retry"])
        self.assertEqual(attempts.mapped("date"), [DAY0, *expected_days])
        self.assertEqual(attempts[-1].next_retry_date, date(2026, 3, 8))
        # only the last attempt plans a retry
        self.assertEqual(len(attempts.filtered("next_retry_date")), 1)
        # the customer's card works again: the 7th day settles the invoice
        token.demo_simulated_state = "done"
        self._run_cron(date(2026, 3, 8))
        attempts = self._attempts(invoice)
        self.assertEqual(attempts.mapped("state"), ["failed"] * 4 + ["done"])
        self._assert_paid(invoice)
        self.assertFalse(attempts.filtered("next_retry_date"))
        for day in range(9, 20):
            self._run_cron(date(2026, 3, day))
        self.assertEqual(len(invoice.rbm_card_attempt_ids), 5)

    def test_schedule_ends(self):
        self.env.company.rbm_card_retry_days = "1,2"
        token = self._make_token(self.customer, "error")
        invoice = self._bill_card_contract(token)
        for day in range(1, 15):
            self._run_cron(date(2026, 3, day))
        attempts = self._attempts(invoice)
        self.assertEqual(attempts.mapped("date"), [DAY0, date(2026, 3, 2), date(2026, 3, 3)])
        self.assertFalse(attempts.filtered("next_retry_date"))
        self.assertIn("The retry schedule is over", self._notes(invoice))

    def test_hard_decline_is_not_retried(self):
        token = self._make_token(self.customer, "cancel")
        invoice = self._bill_card_contract(token)
        for day in range(1, 12):
            self._run_cron(date(2026, 3, day))
        attempt = invoice.rbm_card_attempt_ids
        self.assertEqual(len(attempt), 1)
        self.assertRecordValues(
            attempt, [{"state": "failed", "hard_decline": True, "next_retry_date": False}]
        )
        self.assertTrue(attempt.reason)
        self.assertIn("no retry", self._notes(invoice))
        self.assertTrue(attempt.transaction_id._rbm_is_hard_decline())

    def test_paid_invoice_stops_the_retries(self):
        token = self._make_token(self.customer, "error")
        invoice = self._bill_card_contract(token)
        self._run_cron(DAY0)
        self.assertTrue(invoice.rbm_card_attempt_ids.next_retry_date)
        # the customer pays another way before the retry
        with freeze_time(date(2026, 3, 1)):
            self.env["account.payment.register"].with_context(
                active_model="account.move", active_ids=invoice.ids
            ).create({"journal_id": self.bank_journal.id})._create_payments()
        self._run_cron(date(2026, 3, 2))
        self.assertEqual(len(invoice.rbm_card_attempt_ids), 1)
        self.assertFalse(invoice.rbm_card_attempt_ids.next_retry_date)
        self.assertIn("nothing left to pay", self._notes(invoice))

    def test_reset_to_draft_stops_the_retries(self):
        token = self._make_token(self.customer, "error")
        invoice = self._bill_card_contract(token)
        self._run_cron(DAY0)
        invoice.button_draft()
        self.assertFalse(invoice.rbm_card_attempt_ids.next_retry_date)

    def test_provider_answer_later(self):
        """A provider that answers by webhook: the attempt follows its transaction."""
        token = self._make_token(self.customer, "pending")
        invoice = self._bill_card_contract(token)
        self._run_cron(DAY0)
        attempt = invoice.rbm_card_attempt_ids
        self.assertEqual(attempt.state, "pending")
        # a pending charge is never doubled
        self.assertFalse(invoice._rbm_charge_card("dunning"))
        with self.assertRaisesRegex(UserError, "already has a payment on its way"):
            invoice.action_rbm_charge_card()
        with freeze_time(date(2026, 3, 2)):
            attempt.transaction_id._set_error("Insufficient funds")
        self.assertRecordValues(
            attempt,
            [
                {
                    "state": "failed",
                    "reason": "Insufficient funds",
                    "hard_decline": False,
                    "next_retry_date": date(2026, 3, 3),
                }
            ],
        )
        token.demo_simulated_state = "pending"
        self._run_cron(date(2026, 3, 3))
        second = self._attempts(invoice)[-1]
        self.assertEqual(second.attempt_number, 2)
        second.transaction_id._set_done()
        self.assertEqual(second.state, "done")
        second.transaction_id._post_process()
        self._assert_paid(invoice)

    # ------------------------------------------------------------------
    # idempotency and errors
    # ------------------------------------------------------------------

    def test_crash_after_reservation_never_charges_twice(self):
        token = self._make_token(self.customer, "done")
        invoice = self._bill_card_contract(token)
        # the run reserved the charge (committed) and died before the provider answered
        with freeze_time(DAY0):
            reserved = invoice._rbm_reserve_card_attempt("post", token)
        self.assertEqual(reserved.state, "pending")
        self.assertEqual(reserved.transaction_id.state, "draft")
        self.assertFalse(invoice.rbm_card_charge_due)
        for day in range(1, 5):
            self._run_cron(date(2026, 3, day))
        self.assertFalse(invoice._rbm_charge_card("dunning"))
        self.assertEqual(invoice.rbm_card_attempt_ids, reserved)
        self.assertEqual(reserved.transaction_id.state, "draft")
        self.assertEqual(len(invoice.transaction_ids), 1)
        # checked with the provider: nothing was charged, the schedule goes on
        with freeze_time(date(2026, 3, 4)):
            reserved.action_mark_failed()
        self.assertRecordValues(
            reserved, [{"state": "failed", "next_retry_date": date(2026, 3, 5)}]
        )
        self.assertIn("Marked as failed", reserved.reason)
        self._run_cron(date(2026, 3, 5))
        self._run_cron(date(2026, 3, 5))
        self.assertEqual(self._attempts(invoice).mapped("state"), ["failed", "done"])
        self._assert_paid(invoice)

    def test_same_attempt_number_is_refused_by_the_database(self):
        token = self._make_token(self.customer, "done")
        invoice = self._bill_card_contract(token)
        self.assertFalse(invoice.rbm_card_attempt_ids)  # read before the other process
        # another process reserves attempt 1 meanwhile
        self.env.cr.execute(
            """
            INSERT INTO rbm_card_attempt (move_id, partner_id, company_id, currency_id,
                amount, token_id, attempt_number, origin, date, state)
            VALUES (%s, %s, %s, %s, 150, %s, 1, 'dunning', %s, 'pending')
            """,
            [
                invoice.id,
                self.customer.id,
                invoice.company_id.id,
                invoice.currency_id.id,
                token.id,
                DAY0,
            ],
        )
        with mute_logger("odoo.sql_db"):
            self.assertFalse(invoice._rbm_reserve_card_attempt("retry", token))
        self.env.invalidate_all()
        self.assertEqual(len(invoice.rbm_card_attempt_ids), 1)
        self.assertFalse(invoice.transaction_ids)
        with mute_logger("odoo.sql_db"), self.assertRaises(psycopg2.IntegrityError):
            with self.env.cr.savepoint():
                self.env["rbm.card.attempt"].create(
                    {
                        "move_id": invoice.id,
                        "partner_id": self.customer.id,
                        "company_id": invoice.company_id.id,
                        "currency_id": invoice.currency_id.id,
                        "amount": 150,
                        "token_id": token.id,
                        "attempt_number": 1,
                        "origin": "manual",
                    }
                )
                self.env.flush_all()

    def test_provider_exception_is_a_failed_attempt(self):
        token = self._make_token(self.customer, "done")
        invoice = self._bill_card_contract(token)
        with freeze_time(DAY0):
            attempt = invoice._rbm_reserve_card_attempt("post", token)
            # the provider goes away between the reservation and the request
            self.provider.state = "disabled"
            invoice._rbm_send_card_attempt(attempt)
        self.assertEqual(invoice.state, "posted")
        self.assertEqual(attempt.state, "failed")
        self.assertEqual(attempt.transaction_id.state, "error")
        self.assertIn("disabled", attempt.reason)
        self.assertEqual(attempt.next_retry_date, date(2026, 3, 2))
        self.assertEqual(invoice.payment_state, "not_paid")

    def test_manual_charge(self):
        token = self._make_token(self.customer, "error")
        invoice = self._bill_card_contract(token)
        self._run_cron(DAY0)
        token.demo_simulated_state = "done"
        with freeze_time(DAY0):
            action = invoice.action_rbm_charge_card()
        self.assertEqual(action["res_model"], "rbm.card.attempt")
        attempts = self._attempts(invoice)
        self.assertEqual(attempts.mapped("origin"), ["post", "manual"])
        self._assert_paid(invoice)

    # ------------------------------------------------------------------
    # settings
    # ------------------------------------------------------------------

    def test_retry_schedule_setting(self):
        settings = Form(self.env["res.config.settings"])
        settings.rbm_card_retry_days = "2, 4,8"
        settings.save().execute()
        self.assertEqual(self.env.company.rbm_card_retry_days, "2, 4,8")
        for value, message in (
            ("3,1", "day 1 does not come after the previous one"),
            ("1,x", "“x” is not a whole number of days"),
            ("0", "day 0 is not after the first failure"),
            (" ", "it is empty"),
        ):
            with (
                self.assertRaisesRegex(ValidationError, message) as error,
                self.env.cr.savepoint(),
            ):
                self.env.company.rbm_card_retry_days = value
            self.assertIn(self.env.company.name, str(error.exception))
        self.assertEqual(self.env.company.rbm_card_retry_days, "2, 4,8")
