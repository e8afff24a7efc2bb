from datetime import datetime

from odoo.exceptions import UserError
from odoo.tests import tagged

from odoo.addons.rbm_recurring.tests.common import d

from .common import RbmMeteringCase, event

SAO_PAULO = "America/Sao_Paulo"


@tagged("post_install", "-at_install")
class TestUsageTimeZone(RbmMeteringCase):
    """Usage is counted in the customer's days (else the company's): in São
    Paulo (UTC-3) a day runs from 03:00 UTC to 03:00 UTC the next day."""

    def _statuses(self, results):
        return [(r["idempotency_key"], r["status"], r.get("reason")) for r in results]

    def test_midnight_in_the_customer_time_zone_splits_the_periods(self):
        self.customer_a.tz = SAO_PAULO
        plan = self._make_usage_plan(self.storage, price_unit=1.0)
        contract = self._make_contract(plan, d("2027-01-01"))
        self.assertEqual(contract._get_usage_tz(), SAO_PAULO)
        results = self._ingest(
            contract,
            [
                # 23:59 on December 31st in São Paulo: before the contract start
                event("dec31-2359", 100, "2027-01-01T02:59:00Z"),
                # 00:00 on January 1st in São Paulo
                event("jan1-0000", 1, "2027-01-01T03:00:00Z"),
                # 23:30 on January 31st in São Paulo (02:30 UTC on February 1st)
                event("jan31-2330", 5, "2027-02-01T02:30:00Z"),
                # the same instant written with its offset
                event("jan31-2345", 10, "2027-01-31T23:45:00-03:00"),
                # 00:00 on February 1st in São Paulo
                event("feb1-0000", 7, "2027-02-01T03:00:00Z"),
            ],
            "2027-02-01 12:00:00",
        )
        self.assertEqual(
            self._statuses(results),
            [
                ("dec31-2359", "rejected", "contract_not_active"),
                ("jan1-0000", "accepted", None),
                ("jan31-2330", "accepted", None),
                ("jan31-2345", "accepted", None),
                ("feb1-0000", "accepted", None),
            ],
        )
        january = self._bill(contract, d("2027-02-01"))["moves"]
        self.assertEqual(self._usage_line(january).price_unit, 16.0)
        statement = contract._get_usage_statement(d("2027-01-15"))
        daily = dict(statement["metrics"][0]["daily"])
        self.assertEqual(daily[d("2027-01-01")], 1)
        self.assertEqual(daily[d("2027-01-31")], 15)
        self.assertEqual(statement["metrics"][0]["quantity"], 16)
        february = self._bill(contract, d("2027-03-01"))["moves"]
        self.assertEqual(self._usage_line(february).price_unit, 7.0)
        keys = {
            u.idempotency_key: u.invoice_id
            for u in self.env["rbm.usage"].search([("contract_id", "=", contract.id)])
        }
        self.assertEqual(keys["jan31-2330"], january)
        self.assertEqual(keys["feb1-0000"], february)

    def test_company_time_zone_when_the_customer_has_none(self):
        self.customer_a.tz = False
        self.env.company.partner_id.tz = SAO_PAULO
        plan = self._make_usage_plan(self.storage, price_unit=1.0)
        contract = self._make_contract(plan, d("2027-01-01"))
        self.assertEqual(contract._get_usage_tz(), SAO_PAULO)
        self._ingest(
            contract,
            [event("a", 5, "2027-02-01T02:30:00Z"), event("b", 7, "2027-02-01T03:00:00Z")],
            "2027-02-01 12:00:00",
        )
        move = self._bill(contract, d("2027-02-01"))["moves"]
        self.assertEqual(self._usage_line(move).price_unit, 5.0)
        # neither: UTC, 02:30 UTC is February
        self.env.company.partner_id.tz = False
        contract_utc = self._make_contract(plan, d("2027-01-01"), partner=self.customer_b)
        self.customer_b.tz = False
        self.assertEqual(contract_utc._get_usage_tz(), "UTC")
        self._ingest(contract_utc, [event("c", 5, "2027-02-01T02:30:00Z")], "2027-02-01 12:00")
        move = self._bill(contract_utc, d("2027-02-01"))["moves"]
        self.assertFalse(self._usage_line(move))

    def test_contract_end_and_late_events_in_local_days(self):
        self.customer_a.tz = SAO_PAULO
        plan = self._make_usage_plan(self.storage, price_unit=1.0)
        contract = self._make_contract(plan, d("2027-01-01"), date_end=d("2027-02-28"))
        self._bill(contract, d("2027-02-01"))
        results = self._ingest(
            contract,
            [
                # January 31st 23:30 local, arriving after January was invoiced:
                # late, counted from the first local instant of February
                event("late", 2, "2027-02-01T02:30:00Z"),
                # February 28th 23:30 local: the last day of service
                event("last-day", 3, "2027-03-01T02:30:00Z"),
                # March 1st 00:00 local: after the end
                event("after-end", 4, "2027-03-01T03:00:00Z"),
            ],
            "2027-03-01 04:00:00",
        )
        self.assertEqual(
            self._statuses(results),
            [
                ("late", "accepted", None),
                ("last-day", "accepted", None),
                ("after-end", "rejected", "contract_not_active"),
            ],
        )
        late = self.env["rbm.usage"].search([("idempotency_key", "=", "late")])
        self.assertEqual(late.effective_timestamp, datetime(2027, 2, 1, 3))
        move = self._bill(contract, d("2027-03-01"))["moves"]
        self.assertEqual(self._usage_line(move).price_unit, 5.0)

    def test_manual_entry_uses_local_days(self):
        self.customer_a.tz = SAO_PAULO
        plan = self._make_usage_plan(self.storage, price_unit=1.0)
        contract = self._make_contract(plan, d("2027-01-01"), date_end=d("2027-01-31"))
        with self._frozen("2027-02-01 12:00"):
            usage = self.env["rbm.usage"].create(
                {
                    "contract_id": contract.id,
                    "metric_id": self.storage.id,
                    "quantity": 2,
                    "timestamp": datetime(2027, 2, 1, 2, 30),
                }
            )
            self.assertEqual(usage.effective_timestamp, datetime(2027, 2, 1, 2, 30))
            with self.assertRaisesRegex(Exception, "not active at that time"):
                self.env["rbm.usage"].create(
                    {
                        "contract_id": contract.id,
                        "metric_id": self.storage.id,
                        "quantity": 2,
                        "timestamp": datetime(2027, 2, 1, 3, 0),
                    }
                )


@tagged("post_install", "-at_install")
class TestFinalUsageInvoice(RbmMeteringCase):
    """In advance, the usage of the last period is billed once, on a final
    invoice dated the day after the end."""

    def _advance_plan(self):
        return self._make_usage_plan(self.storage, billing_mode="advance", price_unit=1.0)

    def test_cancelled_contract_bills_its_last_usage_once(self):
        contract = self._make_contract(self._advance_plan(), d("2027-01-01"))
        self._bill(contract, d("2027-01-01"))
        self._ingest(contract, [event("jan", 3, "2027-01-20T12:00:00")], "2027-01-31")
        february = self._bill(contract, d("2027-02-01"))["moves"]
        self.assertEqual(self._usage_line(february).price_unit, 3.0)
        self._ingest(contract, [event("feb", 4, "2027-02-10T12:00:00")], "2027-02-14")
        with self._frozen("2027-02-15 10:00"):
            contract._cancel(timing="now", today=d("2027-02-15"))
        self.assertEqual((contract.state, contract.date_end), ("cancelled", d("2027-02-15")))
        # the final invoice is due the day after the end
        self.assertEqual(contract.next_invoice_date, d("2027-02-16"))
        results = self._ingest(
            contract,
            [event("last-day", 1, "2027-02-15T20:00:00"), event("after", 9, "2027-02-16T01:00")],
            "2027-02-16 02:00",
        )
        self.assertEqual([r["status"] for r in results], ["accepted", "rejected"])
        self.assertFalse(self._bill(contract, d("2027-02-15"))["moves"])
        final = self._bill(contract, d("2027-02-16"))["moves"]
        self.assertEqual(len(final), 1)
        self.assertEqual(final.state, "posted")
        self.assertEqual(final.invoice_date, d("2027-02-16"))
        self.assertEqual(
            (final.rbm_period_start, final.rbm_period_end), (d("2027-02-16"), d("2027-02-15"))
        )
        # only the usage: no recurring line for a period with no day of service
        self.assertEqual(len(final.invoice_line_ids), 1)
        self.assertEqual(self._usage_line(final).price_unit, 5.0)
        self.assertEqual(final.amount_untaxed, 5.0)
        self.assertEqual(self._usage_line(final).name, "Storage — 5 GB — 02/01/2027 to 02/15/2027")
        events = self.env["rbm.usage"].search([("contract_id", "=", contract.id)])
        self.assertEqual(set(events.mapped("state")), {"invoiced"})
        # exactly once: nothing more, whenever the run comes back
        self.assertFalse(contract.next_invoice_date)
        self.assertFalse(self._bill(contract, d("2027-02-16"))["moves"])
        self.assertFalse(self._bill(contract, d("2027-06-01"))["moves"])
        self.assertEqual(len(self._invoices(contract)), 3)
        # a late event of the last period has no next invoice: rejected
        [late] = self._ingest(contract, [event("late", 2, "2027-02-12T12:00")], "2027-02-20")
        self.assertEqual((late["status"], late["reason"]), ("rejected", "closed_period"))

    def test_catch_up_to_a_fixed_end_bills_every_period_its_usage(self):
        contract = self._make_contract(
            self._advance_plan(), d("2027-01-01"), date_end=d("2027-02-28")
        )
        self._ingest(
            contract,
            [event("jan", 1, "2027-01-15T12:00:00"), event("feb", 2, "2027-02-15T12:00:00")],
            "2027-02-28 12:00",
        )
        moves = self._bill(contract, d("2027-03-01"))["moves"].sorted("rbm_period_start")
        self.assertEqual(
            [m.rbm_period_start for m in moves], [d("2027-01-01"), d("2027-02-01"), d("2027-03-01")]
        )
        self.assertEqual([m.amount_untaxed for m in moves], [100.0, 101.0, 2.0])
        self.assertFalse(self._bill(contract, d("2027-04-01"))["moves"])

    def test_no_usage_no_final_invoice(self):
        contract = self._make_contract(
            self._advance_plan(), d("2027-01-01"), date_end=d("2027-01-31")
        )
        self._bill(contract, d("2027-01-01"))
        self.assertEqual(contract.next_invoice_date, d("2027-02-01"))
        self.assertFalse(self._bill(contract, d("2027-02-01"))["moves"])
        self.assertFalse(contract.next_invoice_date)
        self.assertEqual(len(self._invoices(contract)), 1)

    def test_contract_without_usage_lines_has_no_final_invoice(self):
        plan = self._make_plan(billing_mode="advance")
        contract = self._make_contract(plan, d("2027-01-01"), date_end=d("2027-01-31"))
        self._bill(contract, d("2027-01-01"))
        self.assertFalse(contract.next_invoice_date)

    def test_arrears_late_event_after_the_last_invoice_is_rejected(self):
        plan = self._make_usage_plan(self.storage, price_unit=1.0)
        contract = self._make_contract(plan, d("2027-01-01"), date_end=d("2027-01-31"))
        self._bill(contract, d("2027-02-01"))
        [late] = self._ingest(contract, [event("late", 2, "2027-01-12T12:00")], "2027-02-02")
        self.assertEqual((late["status"], late["reason"]), ("rejected", "closed_period"))


@tagged("post_install", "-at_install")
class TestReleaseUsage(RbmMeteringCase):
    """An invoice that no longer bills its usage (cancelled, deleted, usage
    line removed) gives its events back to the next invoice, once."""

    def _january_invoice(self, posting_policy="post"):
        plan = self._make_usage_plan(self.storage, price_unit=1.0)
        plan.posting_policy = posting_policy
        contract = self._make_contract(plan, d("2027-01-01"))
        self._ingest(
            contract,
            [event("a", 3, "2027-01-10T12:00:00"), event("b", 4, "2027-01-20T12:00:00")],
            "2027-01-31",
        )
        move = self._bill(contract, d("2027-02-01"))["moves"]
        self.assertEqual(self._usage_line(move).price_unit, 7.0)
        events = self.env["rbm.usage"].search([("contract_id", "=", contract.id)])
        # rated on a draft invoice, invoiced once it is posted
        state = "rated" if posting_policy == "draft" else "invoiced"
        self.assertEqual(set(events.mapped("state")), {state})
        self.assertEqual(set(events.mapped("invoice_id")), {move})
        return contract, move, events

    def _assert_released_then_billed_once(self, contract, events):
        self.assertEqual(set(events.mapped("state")), {"accepted"})
        self.assertFalse(events.invoice_line_id)
        self.assertIn("2 usage events of invoice", contract.message_ids[:1].body)
        self._ingest(contract, [event("c", 1, "2027-02-10T12:00:00")], "2027-02-28")
        march = self._bill(contract, d("2027-03-01"))["moves"]
        self.assertEqual(self._usage_line(march).price_unit, 8.0)
        self.assertEqual(set(events.mapped("invoice_id")), {march})
        self.assertFalse(self._bill(contract, d("2027-03-01"))["moves"])
        april = self._bill(contract, d("2027-04-01"))["moves"]
        self.assertFalse(self._usage_line(april))

    def test_cancelled_posted_invoice_releases_its_usage(self):
        contract, move, events = self._january_invoice()
        self.assertEqual(move.state, "posted")
        move.button_cancel()
        self.assertEqual(move.state, "cancel")
        self._assert_released_then_billed_once(contract, events)

    def test_cancelled_invoice_reset_to_draft_takes_its_usage_back(self):
        contract, move, events = self._january_invoice()
        move.button_cancel()
        self.assertEqual(set(events.mapped("state")), {"accepted"})
        self.assertEqual(events.released_line_id, self._usage_line(move))
        # reset and posted again: it bills the usage, the next invoice does not
        move.button_draft()
        self.assertEqual(set(events.mapped("state")), {"rated"})
        self.assertEqual(set(events.mapped("invoice_id")), {move})
        self.assertFalse(events.released_line_id)
        move.action_post()
        self.assertEqual(set(events.mapped("state")), {"invoiced"})
        march = self._bill(contract, d("2027-03-01"))["moves"]
        self.assertFalse(self._usage_line(march))

    def test_cancelled_invoice_whose_usage_was_billed_again_cannot_be_reset(self):
        contract, move, events = self._january_invoice()
        move.button_cancel()
        march = self._bill(contract, d("2027-03-01"))["moves"]
        self.assertEqual(set(events.mapped("invoice_id")), {march})
        with self.assertRaisesRegex(UserError, "billed again by invoice"):
            move.button_draft()
        self.assertEqual(move.state, "cancel")
        self.assertEqual(set(events.mapped("invoice_id")), {march})

    def test_deleted_draft_invoice_releases_its_usage(self):
        contract, move, events = self._january_invoice("draft")
        self.assertEqual(move.state, "draft")
        with self.assertRaisesRegex(Exception, "cannot be changed"):
            events[:1].quantity = 1
        move.unlink()
        self._assert_released_then_billed_once(contract, events)

    def test_usage_line_removed_from_a_reset_invoice_releases_its_usage(self):
        contract, move, events = self._january_invoice()
        move.button_draft()
        # back to draft only: the invoice still bills the usage, rated again
        self.assertEqual(set(events.mapped("state")), {"rated"})
        move.action_post()
        self.assertEqual(set(events.mapped("state")), {"invoiced"})
        move.button_draft()
        move.write({"invoice_line_ids": [(2, self._usage_line(move).id)]})
        self.assertEqual(move.amount_untaxed, 100.0)
        move.action_post()
        self._assert_released_then_billed_once(contract, events)
