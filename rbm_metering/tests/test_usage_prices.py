import importlib.util
import re
from datetime import date, datetime, time, timedelta

from odoo import Command
from odoo.exceptions import ValidationError
from odoo.modules.module import get_module_path
from odoo.tests import Form, HttpCase, tagged

from .common import RbmMeteringCase

API_TIERS = [(0, 1000, 0.0), (1000, 10000, 0.01), (10000, None, 0.005)]
FACILITATOR = {
    "price_model": "percentage",
    "percent_rate": 1.99,
    "event_fixed_fee": 0.39,
    "event_min_amount": 0.50,
    "event_max_amount": 5.00,
}


@tagged("post_install", "-at_install")
class TestExactUsagePrices(RbmMeteringCase, HttpCase):
    """Sub-cent and percentage prices billed, previewed on the portal and
    printed on the statement with the same total, worked out by hand."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        today = date.today()
        # last month: a whole period that can be billed on the 1st of this month
        cls.period_start = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
        cls.bill_day = today.replace(day=1)
        cls.calls = cls._make_metric("api_calls", "API calls", "calls")
        cls.payments = cls._make_metric("payment_volume", "Payments", "BRL")

    def _run_case(self, metric, quantities, expected, tiers=(), properties=None, **pricing):
        """Ingest ``quantities`` of ``metric`` last month on a new contract
        priced with ``pricing``, then check that the statement, its PDF, the
        portal page and the invoice all say ``expected`` (a text like
        ``"102.50"``). Returns the invoice."""
        plan = self._make_usage_plan(
            metric, tiers=tiers, alignment="fixed_day", billing_day=1, **pricing
        )
        contract = self._make_contract(plan, self.period_start)
        at = datetime.combine(self.period_start + timedelta(days=3), time(12))
        results = self.env["rbm.usage"]._ingest(
            contract.company_id,
            [
                {
                    "idempotency_key": f"{contract.id}-{index}",
                    "metric": metric.code,
                    "contract_id": contract.id,
                    "quantity": quantity,
                    "timestamp": (at + timedelta(hours=index)).isoformat(),
                    "properties": (properties or {}).get(index, {}),
                }
                for index, quantity in enumerate(quantities)
            ],
        )
        self.assertEqual({r["status"] for r in results}, {"accepted"}, results)
        period = self.period_start.isoformat()

        # the statement in the back office, and printed
        statement = contract._get_usage_statement(self.period_start)
        self.assertEqual(f"{statement['total']:.2f}", expected)
        html, _type = self.env["ir.actions.report"]._render_qweb_pdf(
            "rbm_metering.action_report_usage_statement", contract.ids, data={"period": period}
        )
        self.assertIn(expected, self._usage_charges(html.decode()))

        # the portal preview, through HTTP
        token = contract._portal_ensure_token()
        response = self.url_open(
            f"/my/subscriptions/{contract.id}/usage?period={period}&access_token={token}"
        )
        self.assertEqual(response.status_code, 200)
        self.assertIn(expected, self._usage_charges(response.text))

        # the invoice: quantity 1, the rated amount exact to the cent
        move = self._bill(contract, self.bill_day)["moves"]
        self.assertEqual(len(move), 1)
        usage = self._usage_line(move)
        self.assertEqual(sum(usage.mapped("quantity")), float(len(usage)))
        self.assertEqual(f"{sum(usage.mapped('price_subtotal')):.2f}", expected)
        self.assertEqual(f"{move.amount_untaxed:.2f}", f"{100 + float(expected):.2f}")
        events = self.env["rbm.usage"].search([("contract_id", "=", contract.id)])
        self.assertEqual(len(events), len(quantities))
        self.assertTrue(all(event.invoice_line_id in usage for event in events))
        return move

    def _usage_charges(self, html):
        """The text of the statement's "Usage charges" total cell."""
        match = re.search(r"Usage charges</strong>\s*</td>\s*<td[^>]*>(.*?)</td>", html, re.S)
        self.assertTrue(match, "no Usage charges total in the page")
        return match.group(1)

    # ------------------------------------------------------------ sub-cent prices

    def test_graduated_tier_at_half_a_cent(self):
        # 12.500 calls: 1.000 free + 9.000 x 0,01 + 2.500 x 0,005 = 0 + 90,00 + 12,50
        move = self._run_case(
            self.calls, [5000, 5000, 2500], "102.50", tiers=API_TIERS, price_model="graduated"
        )
        self.assertIn("12,500 calls", self._usage_line(move).name)

    def test_volume_tier_at_half_a_cent(self):
        # 12.500 calls all in the last tier: 12.500 x 0,005 = 62,50
        self._run_case(
            self.calls, [5000, 5000, 2500], "62.50", tiers=API_TIERS, price_model="volume"
        )

    def test_tier_at_a_hundredth_of_a_cent(self):
        # 1.000.000 x 0,0002 + 2.500.000 x 0,0001 = 200,00 + 250,00 = 450,00
        tiers = [(0, 1000000, 0.0002), (1000000, None, 0.0001)]
        self._run_case(
            self.calls, [2000000, 1500000], "450.00", tiers=tiers, price_model="graduated"
        )

    def test_per_unit_price_of_an_eighth_of_a_tenth_of_a_cent(self):
        # 3.000.000 x 0,000125 = 375,00
        move = self._run_case(
            self.calls, [1000000, 2000000], "375.00", price_model="per_unit", price_unit=0.000125
        )
        # the subscription page on the portal shows the price with all its decimals
        contract = move.rbm_contract_id
        token = contract._portal_ensure_token()
        body = self.url_open(f"/my/subscriptions/{contract.id}?access_token={token}").text
        self.assertIn("Per unit: $\N{NO-BREAK SPACE}0.000125", body)

    # ------------------------------------------------------------ percentage

    def test_percentage_with_fixed_fee_minimum_and_maximum(self):
        # 1,99% + R$ 0,39 per transaction, at least 0,50, at most 5,00:
        # 5,00 -> 0,0995 + 0,39 = 0,4895 -> 0,50 (minimum)
        # 1.000,00 -> 19,90 + 0,39 = 20,29 -> 5,00 (maximum)
        # 100,00 -> 1,99 + 0,39 = 2,38
        # 3 x 10,00 -> 3 x (0,199 + 0,39) = 1,767
        # 0,50 + 5,00 + 2,38 + 1,767 = 9,647 -> 9,65
        self._run_case(self.payments, [5, 1000, 100, 10, 10, 10], "9.65", **FACILITATOR)

    def test_percentage_with_free_events(self):
        # 2% + 0,10, the first 2 events free: 300 x 2% + 0,10 = 6,10; 400 -> 8,10; total 14,20
        self._run_case(
            self.payments,
            [100, 200, 300, 400],
            "14.20",
            price_model="percentage",
            percent_rate=2.0,
            event_fixed_fee=0.10,
            free_events=2,
        )

    def test_graduated_percentage(self):
        # Lago's example tiers: 1% + 200 up to 1.000, 2% + 300 up to 10.000
        # 1.050: 1.000 x 1% + 200 + 50 x 2% + 300 = 10 + 200 + 1 + 300 = 511,00
        tiers = [(0, 1000, 1.0, 200.0), (1000, 10000, 2.0, 300.0), (10000, None, 3.0, 400.0)]
        self._run_case(
            self.payments, [500, 550], "511.00", tiers=tiers, price_model="graduated_percentage"
        )

    # ------------------------------------------------------------ by event property

    def test_prices_by_region_with_a_default(self):
        regions = {0: "sa-east", 1: "sa-east", 2: "us-east", 3: "eu-west"}
        move = self._run_case(
            self.calls,
            [6000, 4000, 3000, 500, 500],
            # sa-east per unit: 10.000 x 0,005 = 50,00
            # us-east graduated: 1.000 free, 2.000 x 0,002 = 4,00
            # the default (eu-west, not listed, and an event without region):
            #   1.000 x 0,01 = 10,00
            # 50,00 + 4,00 + 10,00 = 64,00
            "64.00",
            properties={index: {"region": region} for index, region in regions.items()},
            price_model="per_unit",
            price_unit=0.01,
            price_property="region",
            price_filter_ids=[
                Command.create(
                    {"value": "sa-east", "price_model": "per_unit", "price_unit": 0.005}
                ),
                Command.create(
                    {
                        "value": "us-east",
                        "price_model": "graduated",
                        "tier_ids": [
                            Command.create({"from_qty": 0, "to_qty": 1000, "price": 0.0}),
                            Command.create({"from_qty": 1000, "to_qty": 0, "price": 0.002}),
                        ],
                    }
                ),
            ],
        )
        lines = {line.name.split(" — ")[0]: line for line in self._usage_line(move)}
        self.assertEqual(
            {name: line.price_subtotal for name, line in lines.items()},
            {
                "API calls (region: sa-east)": 50.0,
                "API calls (region: us-east)": 4.0,
                "API calls (region: other values)": 10.0,
            },
        )
        self.assertIn("10,000 calls", lines["API calls (region: sa-east)"].name)
        # the statement shows the same lines, with the same amounts
        statement = move.rbm_contract_id._get_usage_statement(self.period_start)
        self.assertEqual(
            {item["name"]: f"{item['amount']:.2f}" for item in statement["metrics"]},
            {
                "API calls (region: sa-east)": "50.00",
                "API calls (region: us-east)": "4.00",
                "API calls (region: other values)": "10.00",
            },
        )
        # each event is on the invoice line of its region
        events = self.env["rbm.usage"].search(
            [("invoice_line_id", "in", move.invoice_line_ids.ids)]
        )
        self.assertEqual(
            sorted(e.invoice_line_id.name.split(" — ")[0] for e in events),
            ["API calls (region: other values)"] * 2
            + ["API calls (region: sa-east)"] * 2
            + ["API calls (region: us-east)"],
        )


@tagged("post_install", "-at_install")
class TestUsagePriceDigits(RbmMeteringCase):
    def _usage_line_form(self, plan):
        return Form(
            self.env["rbm.plan.line"].with_context(default_plan_id=plan.id),
            view="rbm_metering.rbm_plan_line_view_form_usage",
        )

    def test_sub_cent_price_is_kept(self):
        plan = self._make_plan()
        with self._usage_line_form(plan) as form:
            form.product_id = self.product_usage
            form.metric_id = self.storage
            form.price_model = "per_unit"
            form.price_unit = 0.000125
        line = plan.line_ids.filtered("metric_id")
        self.assertEqual(line.price_unit, 0.000125)
        self.env.invalidate_all()
        self.env.cr.execute("SELECT price_unit FROM rbm_plan_line WHERE id = %s", [line.id])
        self.assertEqual(str(self.env.cr.fetchone()[0]), "0.000125")

    def test_price_with_too_many_decimals_is_refused(self):
        plan = self._make_plan()
        form = self._usage_line_form(plan)
        form.product_id = self.product_usage
        form.metric_id = self.storage
        form.price_model = "per_unit"
        form.price_unit = 0.0000125  # 7 decimals: the usage precision keeps 6
        with self.assertRaisesRegex(ValidationError, 'field "Unit Price" has more than 6 decimals'):
            form.save()

    def test_tier_price_with_too_many_decimals_is_refused(self):
        plan = self._make_usage_plan(
            self.storage, tiers=[(0, None, 0.005)], price_model="graduated"
        )
        tier = plan.line_ids.tier_ids
        self.assertEqual(tier.price, 0.005)
        with self.assertRaisesRegex(ValidationError, 'field "Unit Price" has more than 6 decimals'):
            tier.write({"price": 0.0050001})  # as the client sends it (RPC write)
        with self.assertRaisesRegex(ValidationError, 'field "Flat Fee" has more than 2 decimals'):
            tier.write({"flat_fee": 1.005})
        self.assertEqual(tier.price, 0.005)

    def test_percentage_terms_through_the_form(self):
        plan = self._make_plan()
        payments = self._make_metric("payment_volume", "Payments", "BRL")
        with self._usage_line_form(plan) as form:
            form.product_id = self.product_usage
            form.metric_id = payments
            form.price_model = "percentage"
            form.percent_rate = 1.99
            form.event_fixed_fee = 0.39
            form.event_min_amount = 0.5
            form.event_max_amount = 5.0
        line = plan.line_ids.filtered("metric_id")
        self.assertEqual(
            (line.percent_rate, line.event_fixed_fee, line.event_min_amount, line.event_max_amount),
            (1.99, 0.39, 0.5, 5.0),
        )
        form = self._usage_line_form(plan)
        form.product_id = self.product_usage
        form.metric_id = payments
        form.price_model = "percentage"
        form.event_min_amount = 5.0
        form.event_max_amount = 0.5
        with self.assertRaisesRegex(ValidationError, "maximum per event is below the minimum"):
            form.save()

    def test_percentage_needs_a_summed_metric(self):
        seats = self._make_metric("seats", "Seats", "users", aggregation="max")
        with self.assertRaisesRegex(ValidationError, "must sum the events"):
            self._make_usage_plan(seats, price_model="percentage", percent_rate=2.0)

    def test_upgrade_keeps_the_usage_precision_at_least_product_price(self):
        path = get_module_path("rbm_metering") + "/migrations/18.0.0.5.0/post-migrate.py"
        spec = importlib.util.spec_from_file_location("rbm_metering_post_migrate_0_5", path)
        migration = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(migration)
        Precision = self.env["decimal.precision"]
        Precision.search([("name", "=", "Product Price")]).digits = 8
        self.env.flush_all()
        migration.migrate(self.env.cr, "18.0.0.4.0")
        self.env.invalidate_all()
        Precision.env.registry.clear_cache()
        self.assertEqual(Precision.precision_get("RBM Usage Price"), 8)
        # the precision is only ever raised, never lowered
        Precision.search([("name", "=", "Product Price")]).digits = 2
        self.env.flush_all()
        migration.migrate(self.env.cr, "18.0.0.4.0")
        self.env.invalidate_all()
        Precision.env.registry.clear_cache()
        self.assertEqual(Precision.precision_get("RBM Usage Price"), 8)
