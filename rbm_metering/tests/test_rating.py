from odoo.tests import tagged

from odoo.addons.rbm_recurring.tests.common import d

from .common import RbmMeteringCase, event

GRADUATED = [(0, 1000, 0.10), (1000, 5000, 0.08, 5.0), (5000, None, 0.05)]


@tagged("post_install", "-at_install")
class TestRatingAggregations(RbmMeteringCase):
    def _bill_january(self, metric, events, **pricing):
        """Arrears monthly contract from 2027-01-01 with ``events`` in January,
        billed on 2027-02-01: (invoice, its usage line, the contract)."""
        plan = self._make_usage_plan(metric, **pricing)
        contract = self._make_contract(plan, d("2027-01-01"))
        results = self._ingest(contract, events, "2027-01-31 23:00:00")
        self.assertEqual({r["status"] for r in results}, {"accepted"}, results)
        move = self._bill(contract, d("2027-02-01"))["moves"]
        self.assertEqual(len(move), 1)
        return move, self._usage_line(move), contract

    def test_sum_per_unit(self):
        move, line, contract = self._bill_january(
            self.storage,
            [event("a", 10, "2027-01-05T10:00:00Z"), event("b", "20.5", "2027-01-20T10:00:00Z")],
            price_unit=0.10,
        )
        self.assertEqual(line.price_unit, 3.05)
        self.assertEqual(line.quantity, 1.0)
        self.assertEqual(line.name, "Storage — 30.5 GB — 01/01/2027 to 01/31/2027")
        self.assertEqual(move.amount_untaxed, 103.05)
        events = self.env["rbm.usage"].search([("contract_id", "=", contract.id)])
        self.assertEqual(set(events.mapped("state")), {"invoiced"})
        self.assertEqual(events.invoice_line_id, line)

    def test_max(self):
        metric = self._make_metric("seats", "Seats", "users", aggregation="max")
        _move, line, _c = self._bill_january(
            metric,
            [
                event("a", 5, "2027-01-02T00:00:00", metric="seats"),
                event("b", 12, "2027-01-10T00:00:00", metric="seats"),
                event("c", 7, "2027-01-20T00:00:00", metric="seats"),
            ],
            price_unit=2.0,
        )
        self.assertEqual(line.price_unit, 24.0)

    def test_count(self):
        metric = self._make_metric("calls", "API calls", "calls", aggregation="count")
        _move, line, _c = self._bill_january(
            metric,
            [event(str(i), 99, "2027-01-02T00:00:00", metric="calls") for i in range(3)],
            price_unit=1.5,
        )
        self.assertEqual(line.price_unit, 4.5)
        self.assertIn("3 calls", line.name)

    def test_count_unique(self):
        metric = self._make_metric(
            "mau", "Active users", "users", aggregation="count_unique", unique_property="user"
        )
        users = ["ana", "bia", "ana", "caio", "bia"]
        _move, line, _c = self._bill_january(
            metric,
            [
                event(f"k{i}", 1, "2027-01-03T00:00:00", metric="mau", properties={"user": u})
                for i, u in enumerate(users)
            ],
            price_unit=10.0,
        )
        self.assertEqual(line.price_unit, 30.0)

    def test_last_value(self):
        metric = self._make_metric("licenses", "Licenses", "lic.", aggregation="last")
        _move, line, _c = self._bill_january(
            metric,
            [
                event("late-sent", 3, "2027-01-25T00:00:00", metric="licenses"),
                event("early-sent", 8, "2027-01-05T00:00:00", metric="licenses"),
            ],
            price_unit=10.0,
        )
        self.assertEqual(line.price_unit, 30.0)

    def test_time_weighted_sum_gb_month(self):
        metric = self._make_metric(
            "disk", "Disk", "GB-month", aggregation="time_weighted_sum", time_unit="period"
        )
        # 0 GB until January 16, then 62 GB: 62 x 16/31 = 32 GB-month
        _move, line, contract = self._bill_january(
            metric, [event("a", 62, "2027-01-16T00:00:00", metric="disk")], price_unit=1.0
        )
        self.assertEqual(line.price_unit, 32.0)
        # February: the level carries over with no new event (62 GB-month)
        move = self._bill(contract, d("2027-03-01"))["moves"]
        self.assertEqual(self._usage_line(move).price_unit, 62.0)


@tagged("post_install", "-at_install")
class TestRatingPriceModels(RbmMeteringCase):
    def _rate(self, quantity, start="2027-01-01", **pricing):
        plan = self._make_usage_plan(self.storage, **pricing)
        contract = self._make_contract(plan, d(start))
        self._ingest(contract, [event("q", quantity, "2027-01-20T00:00:00")], "2027-01-31")
        move = self._bill(contract, d("2027-02-01"))["moves"]
        return self._usage_line(move)

    def test_allowance_with_overage(self):
        line = self._rate("1234.5", price_model="allowance", allowance=1000, overage_price=0.5)
        self.assertEqual(line.price_unit, 117.25)
        self.assertEqual(
            line.name, "Storage — 1,234.5 GB — allowance 1,000 GB — 01/01/2027 to 01/31/2027"
        )

    def test_allowance_boundary(self):
        line = self._rate(1000, price_model="allowance", allowance=1000, overage_price=0.5)
        self.assertEqual(line.price_unit, 0.0)
        self.assertIn("1,000 GB — allowance 1,000 GB", line.name)

    def test_graduated_tiers(self):
        line = self._rate(6000, price_model="graduated", tiers=GRADUATED)
        self.assertEqual(line.price_unit, 475.0)

    def test_volume_tiers(self):
        line = self._rate(6000, price_model="volume", tiers=GRADUATED)
        self.assertEqual(line.price_unit, 300.0)

    def test_package(self):
        line = self._rate(250, price_model="package", package_size=100, price_unit=9.0)
        self.assertEqual(line.price_unit, 27.0)

    def test_minimum_charge(self):
        line = self._rate(100, price_unit=0.01, minimum_charge=15.0)
        self.assertEqual(line.price_unit, 15.0)

    def test_prorated_allowance_in_a_partial_period(self):
        # fixed day 1, start January 16: 16 of 31 days, allowance 516.129 GB
        line = self._rate(
            600,
            start="2027-01-16",
            alignment="fixed_day",
            billing_day=1,
            price_model="allowance",
            allowance=1000,
            overage_price=0.5,
        )
        self.assertEqual(line.price_unit, 41.94)  # 83.871 x 0.5 = 41.9355
        self.assertIn("allowance 516.129 GB", line.name)

    def test_full_allowance_in_a_partial_period(self):
        line = self._rate(
            600,
            start="2027-01-16",
            alignment="fixed_day",
            billing_day=1,
            price_model="allowance",
            allowance=1000,
            overage_price=0.5,
            allowance_proration="full",
        )
        self.assertEqual(line.price_unit, 0.0)

    def test_brazilian_text(self):
        self.env["res.lang"]._activate_lang("pt_BR")
        self.customer_a.lang = "pt_BR"
        line = self._rate("1234.5", price_model="allowance", allowance=1000, overage_price=0.5)
        self.assertIn("1.234,5 GB — franquia 1.000 GB", line.name)


@tagged("post_install", "-at_install")
class TestRatingRuns(RbmMeteringCase):
    def test_in_advance_plan_bills_usage_on_the_next_invoice(self):
        plan = self._make_usage_plan(self.storage, billing_mode="advance", price_unit=1.0)
        contract = self._make_contract(plan, d("2027-01-01"))
        first = self._bill(contract, d("2027-01-01"))["moves"]
        self.assertFalse(self._usage_line(first))
        self._ingest(contract, [event("jan", 7, "2027-01-15T12:00:00")], "2027-01-31")
        second = self._bill(contract, d("2027-02-01"))["moves"]
        line = self._usage_line(second)
        self.assertEqual(line.price_unit, 7.0)
        self.assertEqual(line.name, "Storage — 7 GB — 01/01/2027 to 01/31/2027")
        self.assertEqual(second.amount_untaxed, 107.0)

    def test_catch_up_bills_each_period_its_own_usage(self):
        plan = self._make_usage_plan(self.storage, price_unit=1.0)
        contract = self._make_contract(plan, d("2027-01-01"))
        self._ingest(
            contract,
            [event("jan", 1, "2027-01-15T00:00:00"), event("feb", 2, "2027-02-15T00:00:00")],
            "2027-03-01",
        )
        moves = self._bill(contract, d("2027-03-01"))["moves"].sorted("rbm_period_start")
        self.assertEqual([self._usage_line(m).price_unit for m in moves], [1.0, 2.0])
        events = self.env["rbm.usage"].search([("contract_id", "=", contract.id)])
        for usage in events:
            self.assertEqual(usage.invoice_id.rbm_period_start.month, usage.timestamp.month)

    def test_rerun_never_rates_twice_and_late_events_go_to_the_next_period(self):
        plan = self._make_usage_plan(self.storage, price_unit=1.0)
        contract = self._make_contract(plan, d("2027-01-01"))
        self._ingest(contract, [event("a", 5, "2027-01-10T00:00:00")], "2027-01-31")
        self._bill(contract, d("2027-02-01"))
        self.assertFalse(self._bill(contract, d("2027-02-01"))["moves"])
        # a January event arriving after January was invoiced: counted in February
        [result] = self._ingest(contract, [event("late", 3, "2027-01-20T00:00:00")], "2027-02-02")
        self.assertEqual(result["status"], "accepted")
        late = self.env["rbm.usage"].search([("idempotency_key", "=", "late")])
        self.assertEqual(str(late.effective_timestamp), "2027-02-01 00:00:00")
        self.assertEqual(late.state, "accepted")
        march = self._bill(contract, d("2027-03-01"))["moves"]
        self.assertEqual(self._usage_line(march).price_unit, 3.0)
        self.assertEqual(late.state, "invoiced")
        self.assertEqual(len(self._invoices(contract)), 2)

    def test_late_events_rejected_by_policy(self):
        self.storage.late_policy = "reject"
        plan = self._make_usage_plan(self.storage, price_unit=1.0)
        contract = self._make_contract(plan, d("2027-01-01"))
        self._bill(contract, d("2027-02-01"))
        [result] = self._ingest(contract, [event("late", 3, "2027-01-20T00:00:00")], "2027-02-02")
        self.assertEqual((result["status"], result["reason"]), ("rejected", "closed_period"))
        self.assertFalse(self.env["rbm.usage"].search([("idempotency_key", "=", "late")]))

    def test_usage_line_is_not_billed_as_a_fee_nor_counted_in_mrr(self):
        plan = self._make_usage_plan(self.storage, price_unit=1.0)
        contract = self._make_contract(plan, d("2027-01-01"))
        usage_line = contract.line_ids.filtered("metric_id")
        self.assertEqual(usage_line.line_type, "usage")
        self.assertEqual(contract.recurring_total, 100.0)
        move = self._bill(contract, d("2027-02-01"))["moves"]
        # no usage: only the recurring line
        self.assertEqual(len(move.invoice_line_ids), 1)
        self.assertEqual(move.amount_untaxed, 100.0)
