import io

from freezegun import freeze_time

from odoo import Command
from odoo.tests import tagged

from .common import RbmBillingCase, d

YEAR = (d("2026-01-01"), d("2026-12-31"))


@tagged("post_install", "-at_install")
class TestKpi(RbmBillingCase):
    """A book of contracts over 18 months (07/2025 to 12/2026), every KPI of
    2026 checked against values computed by hand.

    ======== ========================= ===================================== =========
    customer contract (salesperson)    movements                             MRR 12/26
    ======== ========================= ===================================== =========
    A        Small 100 (user 1)        new 07/2025, upgrade to Big 16/03/26  200
    A        Small 100 (user 1)        01/06/26: expansion (A has MRR)       100
    B        Big 200 (user 2)          new 09/2025, downgrade 01/05/26       100
    C        Small 100 (user 1)        new 10/2025, cancelled, churn 15/02   0
    D        Yearly 1200/yr (user 2)   new 01/01/26 (MRR 100), paid invoice  100
    E        Pause 100 (user 1)        new 12/2025, suspended 01/06,         100
                                       reactivated 01/08
    F        Small 100 (user 1)        new 01/04/26, cancelled, churn 01/10  0
    G        Big 200 (user 2)          new 01/07/26                          200
    H        Small 100, company 2      new 01/01/26                          (100)
    ======== ========================= ===================================== =========

    Opening MRR (31/12/2025): A 100 + B 200 + C 100 + E 100 = 500, 4 customers.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # a company of its own, so that demo data or other tests' contracts
        # do not count
        book_company = cls.env["res.company"].create(
            {"name": "RBM Matriz", "currency_id": cls.currency.id}
        )
        cls.env["account.chart.template"].try_loading(
            "generic_coa", book_company, install_demo=False
        )
        cls.env.user.company_ids |= book_company
        cls.env.user.company_id = book_company
        cls.env = cls.env(context=dict(cls.env.context, allowed_company_ids=[book_company.id]))
        cls.company = book_company
        Partner = cls.env["res.partner"]
        cls.product_big = cls._make_product("Plan Business", 200.0)
        cls.small = cls._make_plan([(cls.product_plan, 1, 100.0)], name="Small")
        cls.big = cls._make_plan([(cls.product_big, 1, 200.0)], name="Big")
        cls.yearly = cls._make_plan(
            [(cls.product_plan, 1, 1200.0)], name="Yearly", interval_unit="year"
        )
        cls.pause = cls._make_plan(
            [(cls.product_plan, 1, 100.0)], name="Pause", suspension_billing="pause"
        )
        cls.user1 = cls.env.user
        group_user = cls.env.ref("rbm_recurring.rbm_recurring_group_user")
        cls.user2 = cls.env["res.users"].create(
            {
                "name": "Vendedora Dois",
                "login": "kpi_seller2",
                "groups_id": [Command.link(group_user.id)],
            }
        )
        cls.cust = {name: Partner.create({"name": f"Cliente {name}"}) for name in "ABCDEFGH"}
        Change = cls.env["rbm.contract.change"]
        reason = cls.env.ref("rbm_recurring.cancel_reason_price")

        def start(name, plan, day, user=None, **vals):
            with freeze_time(day):
                return cls._make_contract(
                    plan, d(day), partner=cls.cust[name], user_id=(user or cls.user1).id, **vals
                )

        cls.a1 = start("A", cls.small, "2025-07-01")
        cls.b = start("B", cls.big, "2025-09-01", cls.user2)
        cls.c = start("C", cls.small, "2025-10-01")
        cls.e = start("E", cls.pause, "2025-12-01")
        cls.d = start("D", cls.yearly, "2026-01-01", cls.user2)
        with freeze_time("2026-01-01"):
            invoice = cls.d.env["rbm.billing.run"]._bill(cls.d, d("2026-01-01"))["moves"]
            cls.env["account.payment.register"].with_context(
                active_model="account.move", active_ids=invoice.ids
            ).create({})._create_payments()
        with freeze_time("2026-02-14"):
            cls.c._cancel(reason, "now")
        with freeze_time("2026-03-16"):
            Change._request(cls.a1, "plan", new_plan=cls.big)
        cls.f = start("F", cls.small, "2026-04-01")
        with freeze_time("2026-04-10"):
            Change._request(cls.b, "plan", new_plan=cls.small)
        with freeze_time("2026-05-01"):
            cls.env["rbm.billing.run"]._run_lifecycle(d("2026-05-01"))
        with freeze_time("2026-06-01"):
            cls.e._suspend(d("2026-06-01"))
        cls.a2 = start("A", cls.small, "2026-06-01")
        cls.g = start("G", cls.big, "2026-07-01", cls.user2)
        with freeze_time("2026-08-01"):
            cls.e._reactivate(d("2026-08-01"))
        with freeze_time("2026-09-30"):
            cls.f._cancel(reason, "now")
        # a second company's contract
        cls.company2 = cls.env["res.company"].create(
            {"name": "RBM Filial", "currency_id": cls.currency.id}
        )
        cls.env.user.company_ids |= cls.company2
        cls.env = cls.env(context=dict(cls.env.context, allowed_company_ids=[book_company.id]))
        plan2 = cls._make_plan(
            [(cls.product_plan, 1, 100.0)], name="Small Filial", company_id=cls.company2.id
        )
        cls.h = start("H", plan2, "2026-01-01", company_id=cls.company2.id)
        cls.Kpi = cls.env["rbm.kpi"]

    def _kpis(self, **filters):
        return self.Kpi._get_kpis(*YEAR, **filters)

    def assertRates(self, values, expected):
        self.assertEqual(len(values), len(expected))
        for value, exp in zip(values, expected, strict=True):
            if exp is None:
                self.assertIsNone(value)
            else:
                self.assertAlmostEqual(value, exp, places=6)

    def test_book_was_built_as_described(self):
        events = self.env["rbm.mrr.event"].search(
            [("contract_id", "in", (self.a1 | self.b | self.c | self.d | self.e).ids)],
            order="date, id",
        )
        self.assertEqual(
            [
                (e.contract_id.partner_id.name[-1], str(e.date), e.event_type, e.delta)
                for e in events
            ],
            [
                ("A", "2025-07-01", "new", 100.0),
                ("B", "2025-09-01", "new", 200.0),
                ("C", "2025-10-01", "new", 100.0),
                ("E", "2025-12-01", "new", 100.0),
                ("D", "2026-01-01", "new", 100.0),
                ("C", "2026-02-15", "churn", -100.0),
                ("A", "2026-03-16", "expansion", 100.0),
                ("B", "2026-05-01", "contraction", -100.0),
                ("E", "2026-06-01", "churn", -100.0),
                ("E", "2026-08-01", "reactivation", 100.0),
            ],
        )
        self.assertEqual(self.f.mrr_event_ids.mapped("date"), [d("2026-10-01"), d("2026-04-01")])

    def test_period_kpis(self):
        k = self._kpis()
        self.assertEqual((k["date_from"], k["date_to"]), YEAR)
        self.assertEqual((k["mrr_start"], k["mrr"], k["arr"]), (500.0, 800.0, 9600.0))
        self.assertEqual(
            [k[key] for key in ("new", "expansion", "contraction", "churn", "reactivation")],
            # new: D, F, G; expansion: A's upgrade and A's 2nd contract (A had MRR)
            [400.0, 200.0, -100.0, -300.0, 100.0],
        )
        self.assertEqual(k["net_new"], 300.0)
        # A (2 contracts), B, D, E, G
        self.assertEqual((k["active_customers"], k["active_contracts"]), (5, 6))
        self.assertEqual((k["customers_start"], k["churned_customers"]), (4, 1))  # C left
        self.assertEqual(k["logo_churn_rate"], 0.25)
        # customers of the start: C churn 100, B contraction 100, E suspension 100 (F is new)
        self.assertEqual(k["revenue_churn"], 300.0)
        self.assertAlmostEqual(k["revenue_churn_rate"], 0.6)
        self.assertAlmostEqual(k["grr"], 0.4)
        # A 300 + B 100 + C 0 + E 100 (reactivated) = 500 of the 500 they brought
        self.assertAlmostEqual(k["nrr"], 1.0)
        self.assertEqual(k["arpa"], 160.0)
        avg_churn = (0 + 1 / 6 + 0 + 0 + 1 / 7 + 1 / 6 + 0 + 0 + 0 + 1 / 9 + 0 + 0) / 12
        self.assertAlmostEqual(k["avg_monthly_revenue_churn_rate"], avg_churn)
        self.assertAlmostEqual(k["ltv"], 160.0 / avg_churn, places=2)
        # the yearly invoice of D, paid
        self.assertEqual(
            (
                k["realised_revenue"],
                k["realised_revenue_customers"],
                k["realised_revenue_per_customer"],
            ),
            (1200.0, 1, 1200.0),
        )
        self.assertIsNone(k["delinquency_rate"])  # provided by the collection addon

    def test_monthly_kpis(self):
        months = self._kpis()["months"]
        self.assertEqual(len(months), 12)
        self.assertEqual(
            [m["mrr_end"] for m in months],
            [600, 500, 600, 700, 600, 600, 800, 900, 900, 800, 800, 800],
        )
        self.assertEqual(
            [m["mrr_start"] for m in months],
            [500, 600, 500, 600, 700, 600, 600, 800, 900, 900, 800, 800],
        )
        self.assertEqual(
            [m["net_new"] for m in months], [100, -100, 100, 100, -100, 0, 200, 100, 0, -100, 0, 0]
        )
        # June: A's second contract is an expansion of customer A, E's suspension a churn
        self.assertEqual(
            [
                (m["new"], m["expansion"], m["churn"])
                for m in months
                if m["month"] == d("2026-06-01")
            ],
            [(0.0, 100.0, -100.0)],
        )
        self.assertEqual([m["customers_end"] for m in months], [5, 4, 4, 5, 5, 4, 5, 6, 6, 5, 5, 5])
        self.assertEqual(
            [m["churned_customers"] for m in months], [0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0]
        )
        self.assertRates(
            [m["logo_churn_rate"] for m in months],
            [0, 1 / 5, 0, 0, 0, 1 / 5, 0, 0, 0, 1 / 6, 0, 0],
        )
        self.assertRates(
            [m["revenue_churn_rate"] for m in months],
            [0, 100 / 600, 0, 0, 100 / 700, 100 / 600, 0, 0, 0, 100 / 900, 0, 0],
        )
        self.assertRates(
            [m["grr"] for m in months],
            [1, 500 / 600, 1, 1, 600 / 700, 500 / 600, 1, 1, 1, 800 / 900, 1, 1],
        )
        # March: A's upgrade; June: A's second contract makes up for E
        self.assertRates(
            [m["nrr"] for m in months],
            [1, 500 / 600, 600 / 500, 1, 600 / 700, 1, 1, 1, 1, 800 / 900, 1, 1],
        )

    def test_cohorts(self):
        cohorts = self._kpis()["cohorts"]
        # A (first contract 07/2025) is not a cohort of June for its second contract
        self.assertEqual(
            [(str(c["month"]), c["customers"], c["mrr"]) for c in cohorts],
            [("2026-01-01", 1, 100.0), ("2026-04-01", 1, 100.0), ("2026-07-01", 1, 200.0)],
        )
        january, april, july = cohorts
        self.assertEqual([c["customer_rate"] for c in january["cells"]], [1.0] * 12)
        self.assertEqual([c["customer_rate"] for c in april["cells"]], [1.0] * 6 + [0.0] * 3)
        self.assertEqual([c["mrr_rate"] for c in april["cells"]], [1.0] * 6 + [0.0] * 3)
        self.assertEqual([c["mrr"] for c in july["cells"]], [200.0] * 6)

    def test_mrr_at_other_dates(self):
        self.assertEqual(self.Kpi._get_kpis(d("2025-07-01"), d("2025-07-31"))["mrr"], 100.0)
        k = self.Kpi._get_kpis(d("2026-06-01"), d("2026-06-01"))
        # E suspended, A's second contract started (an expansion of A), the same day
        self.assertEqual(
            (k["mrr_start"], k["mrr"], k["new"], k["expansion"], k["churn"]),
            (600, 600, 0, 100, -100),
        )

    def test_multi_company_isolation(self):
        company1 = self.company
        self.assertEqual(self.env.company, company1)
        self.assertEqual(self._kpis(company_ids=[company1.id])["mrr"], 800.0)
        k2 = self._kpis(company_ids=[self.company2.id])
        self.assertEqual((k2["mrr"], k2["new"], k2["active_customers"]), (100.0, 100.0, 1))
        self.assertEqual(k2["realised_revenue"], 0.0)
        both = self._kpis(company_ids=[company1.id, self.company2.id])
        self.assertEqual((both["mrr"], both["active_customers"]), (900.0, 6))
        # a company the user may not access is ignored
        other = self.env["res.company"].create({"name": "Outra"})
        self.env.user.company_ids -= other
        self.assertEqual(
            self._kpis(company_ids=[other.id, self.company2.id])["filters"]["company_ids"],
            [self.company2.id],
        )

    def test_filters_by_plan_salesperson_product(self):
        # plans are the contracts' current plans: B (downgraded), C, F, A's 2nd; the
        # movements keep the customer's type (A's 2nd contract: an expansion of A)
        small = self._kpis(plan_ids=[self.small.id])
        self.assertEqual(
            (
                small["mrr_start"],
                small["new"],
                small["expansion"],
                small["contraction"],
                small["churn"],
                small["mrr"],
            ),
            (300.0, 100.0, 100.0, -100.0, -200.0, 200.0),
        )
        big = self._kpis(plan_ids=[self.big.id])  # A's first contract and G
        self.assertEqual((big["mrr_start"], big["expansion"], big["mrr"]), (100.0, 100.0, 400.0))
        seller2 = self._kpis(user_ids=[self.user2.id])  # B, D, G
        self.assertEqual(
            (seller2["mrr_start"], seller2["mrr"], seller2["active_customers"]), (200.0, 400.0, 3)
        )
        self.assertEqual(seller2["realised_revenue"], 1200.0)
        self.assertEqual(self._kpis(user_ids=[self.user1.id])["realised_revenue"], 0.0)
        # contracts that ever had the Business product: A's first, B, G
        business = self._kpis(product_ids=[self.product_big.id])
        self.assertEqual(business["mrr"], 500.0)

    def _drill(self, key, date_from=YEAR[0], date_to=YEAR[1], **kwargs):
        model, domain, _name = self.Kpi._get_kpi_drilldown(
            key, date_from, date_to, self.Kpi._get_kpi_filters(), **kwargs
        )
        return self.env[model].search(domain)

    def test_drilldowns(self):
        churn = self._drill("churn")
        self.assertEqual(churn.contract_id, self.c | self.e | self.f)
        self.assertEqual(sum(churn.mapped("delta")), self._kpis()["churn"])
        self.assertFalse(self._drill("new", d("2026-06-01"), d("2026-06-30")))
        june_expansion = self._drill("expansion", d("2026-06-01"), d("2026-06-30"))
        self.assertEqual(june_expansion.contract_id, self.a2)
        self.assertEqual(june_expansion.contract_event_type, "new")  # the contract's own
        self.assertEqual(len(self._drill("net_new")), 10)
        self.assertEqual(self._drill("mrr"), self.a1 | self.a2 | self.b | self.d | self.e | self.g)
        lost = self._drill("revenue_churn")
        self.assertEqual(lost.contract_id, self.c | self.b | self.e)
        self.assertEqual(-sum(lost.mapped("delta")), 300.0)
        cust = self.cust
        self.assertEqual(self._drill("churned_customers"), cust["C"])
        self.assertEqual(
            self._drill("active_customers"),
            cust["A"] | cust["B"] | cust["D"] | cust["E"] | cust["G"],
        )
        self.assertEqual(self._drill("cohort", cohort=d("2026-04-01")), cust["F"])
        self.assertFalse(self._drill("cohort", cohort=d("2026-04-01"), offset=6))
        self.assertEqual(self._drill("realised_revenue").partner_id, cust["D"])
        # as the dashboard calls it
        action = self.Kpi.action_kpi_drilldown(
            "contraction", {"date_to": "2026-12-15", "months": 12, "month": "2026-05-01"}
        )
        self.assertEqual(action["res_model"], "rbm.mrr.event")
        self.assertEqual(self.env["rbm.mrr.event"].search(action["domain"]).contract_id, self.b)
        action = self.Kpi.action_kpi_drilldown(
            "mrr", {"date_to": "2026-12-15", "filters": {"company_ids": [self.company2.id]}}
        )
        self.assertEqual(self.env["rbm.contract"].search(action["domain"]), self.h)

    @freeze_time("2027-01-20")
    def test_dashboard_data_and_xlsx_export(self):
        data = self.Kpi.get_dashboard_data(date_to="2026-12-15")
        self.assertEqual((data["date_from"], data["date_to"]), ("2026-01-01", "2026-12-31"))
        self.assertEqual((data["mrr"], len(data["months"])), (800.0, 12))
        self.assertIn([self.small.id, "Small"], data["options"]["plans"])
        import openpyxl

        name, content = self.Kpi._get_kpi_xlsx_from_params({"date_to": "2026-12-15"})
        self.assertEqual(name, "revenue-kpis-2026-12.xlsx")
        book = openpyxl.load_workbook(io.BytesIO(content))
        self.assertEqual(book.sheetnames, ["KPIs", "MRR by month", "Cohorts"])
        summary = {row[0]: row[1] for row in book["KPIs"].iter_rows(values_only=True)}
        self.assertEqual(
            (summary["MRR"], summary["ARR"], summary["Gross revenue retention"]), (800, 9600, 0.4)
        )
        months = list(book["MRR by month"].iter_rows(values_only=True))
        self.assertEqual(len(months), 13)
        self.assertEqual(months[2][5], -100)  # February: C's churn
        cohorts = list(book["Cohorts"].iter_rows(values_only=True))
        self.assertEqual(len(cohorts), 1 + 3 * 2)

    def test_dashboard_ends_today(self):
        """The current month counts up to today, not to its last day."""
        with freeze_time("2026-12-15"):
            data = self.Kpi.get_dashboard_data(date_to="2026-12-01")
        self.assertEqual((data["date_from"], data["date_to"]), ("2026-01-01", "2026-12-15"))
        # a past month is whole
        with freeze_time("2026-12-15"):
            data = self.Kpi.get_dashboard_data(date_to="2026-11-01", months=6)
        self.assertEqual((data["date_from"], data["date_to"]), ("2026-06-01", "2026-11-30"))

    @freeze_time("2027-01-20")
    def test_dashboard_one_currency_at_a_time(self):
        """A contract in another currency is never added to the company's:
        the dashboard shows the company currency, and the other one on its own."""
        usd = self.env.ref("base.USD")
        other = usd if self.currency != usd else self.env.ref("base.EUR")
        other.active = True
        plan = self._make_plan([(self.product_plan, 1, 1000.0)], name="Foreign")
        plan.currency_id = other
        with freeze_time("2026-03-01"):
            self._make_contract(plan, d("2026-03-01"), partner=self.cust["A"], currency_id=other.id)
        data = self.Kpi.get_dashboard_data(date_to="2026-12-15")
        # the company's book only: 800 as before, not 800 + 1000
        self.assertEqual((data["mrr"], data["currency"]["id"]), (800.0, self.currency.id))
        self.assertEqual(
            sorted(c[0] for c in data["options"]["currencies"]),
            sorted([self.currency.id, other.id]),
        )
        foreign = self.Kpi.get_dashboard_data(
            date_to="2026-12-15", filters={"currency_ids": [other.id]}
        )
        self.assertEqual((foreign["mrr"], foreign["currency"]["id"]), (1000.0, other.id))

    def test_partner_lifetime_revenue_and_ltv(self):
        with freeze_time("2027-01-10"):
            d_customer = self.cust["D"]
            d_customer.invalidate_recordset()
            self.assertEqual(d_customer.rbm_lifetime_revenue, 1200.0)
            avg_churn = (1 / 6 + 1 / 7 + 1 / 6 + 1 / 9) / 12
            self.assertAlmostEqual(d_customer.rbm_ltv, 100.0 / avg_churn, places=2)
            self.assertEqual(self.cust["C"].rbm_ltv, 0.0)  # no MRR any more
            self.assertEqual(self.cust["C"].rbm_lifetime_revenue, 0.0)
