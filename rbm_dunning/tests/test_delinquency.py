import base64
import io
from datetime import date, datetime, timedelta

from freezegun import freeze_time

from odoo import Command, fields
from odoo.exceptions import UserError
from odoo.tests import HttpCase, new_test_user, tagged

from .common import RbmDunningCase

D = date.fromisoformat


def read_xlsx(content):
    """{sheet name: rows (lists of values)} of an XLSX file."""
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(content))
    return {
        sheet.title: [list(row) for row in sheet.iter_rows(values_only=True)]
        for sheet in book.worksheets
    }


class DelinquencyCase(RbmDunningCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Partner = cls.env["res.partner"]
        cls.cust_b = Partner.create({"name": "Bento Ribeiro", "email": "bento@example.com"})
        cls.cust_c = Partner.create({"name": "Clara Nunes", "email": "clara@example.com"})
        cls.cust_d = Partner.create({"name": "Dora Lima", "email": "dora@example.com"})
        cls.two_installments = cls.env["account.payment.term"].create(
            {
                "name": "30/60",
                "line_ids": [
                    Command.create({"value": "percent", "value_amount": 50, "nb_days": 30}),
                    Command.create({"value": "percent", "value_amount": 50, "nb_days": 60}),
                ],
            }
        )

    @classmethod
    def _invoice(cls, partner, invoice_date, amount, due=None, company=None, **vals):
        """A posted customer invoice without taxes."""
        Move = cls.env["account.move"].with_company(company or cls.env.company)
        move = Move.create(
            {
                "move_type": "out_invoice",
                "partner_id": partner.id,
                "invoice_date": invoice_date,
                **({"invoice_date_due": due} if due else {}),
                "invoice_line_ids": [
                    Command.create(
                        {
                            "name": "Serviço",
                            "quantity": 1,
                            "price_unit": amount,
                            "tax_ids": [Command.clear()],
                        }
                    )
                ],
                **vals,
            }
        )
        move.action_post()
        return move

    @classmethod
    def _pay(cls, invoice, amount, on):
        """Register a customer payment of ``amount`` on ``on`` for the invoice."""
        return (
            cls.env["account.payment.register"]
            .with_context(active_model="account.move", active_ids=invoice.ids)
            .create({"amount": amount, "payment_date": on})
            ._create_payments()
        )

    @classmethod
    def _bill(cls, partner, start, plan=None, due_day=10):
        """A contract paid by boleto, activated and billed for its first
        period: (contract, posted invoice)."""
        contract = cls.env["rbm.contract"].create(
            {
                "partner_id": partner.id,
                "plan_id": (plan or cls.plan).id,
                "date_start": start,
                "payment_mode": "boleto",
                "due_day": due_day,
            }
        )
        contract.action_activate()
        result = contract.env["rbm.billing.run"]._bill(contract, start)
        assert not result["failed"], result
        return contract, result["moves"]

    def _aging(self, as_of=None, groupby=("partner_id", "aging_bucket"), domain=()):
        Aging = self.env["rbm.receivable.aging"]
        if as_of:
            Aging = Aging.with_context(rbm_aging_date=as_of)
        return {
            tuple(g.id if hasattr(g, "id") else g for g in key[:-1]): key[-1]
            for key in Aging._read_group(list(domain), list(groupby), ["amount_residual:sum"])
        }


@tagged("post_install", "-at_install")
class TestAging(DelinquencyCase):
    """A known portfolio in two companies, aged at 30/06 and 31/07/2026.

    ====== ============================= ========== ============ ================== =========
    cust.  invoice                       due        open 30/06   bucket 30/06       31/07
    ====== ============================= ========== ============ ================== =========
    A      contract (boleto) 01/03 150   10/03      150          90+ (112 days)     90+
    B      01/05 1.000 in 2 installments 31/05      500-200=300  1-30 (30 days)     61-90
           (partial 200 paid 10/06)      30/06      500          current (0 days)   31-60
    B      01/04 300 (paid on 05/07)     30/04      300          61-90 (61 days)    paid
    C      01/04 80                      01/05      80           31-60 (60 days)    90+ (91)
    C      company 2: 01/06 400          29/06      400          1-30 (1 day)       31-60
    D      20/06 200                     15/07      200          current            1-30
    ====== ============================= ========== ============ ================== =========
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_2 = cls.setup_other_company(
            name="Filial Rio", currency_id=cls.env.company.currency_id.id
        )["company"]
        cls.env.user.company_ids |= cls.company_2
        cls.env = cls.env(
            context=dict(
                cls.env.context, allowed_company_ids=[cls.env.company.id, cls.company_2.id]
            )
        )
        cls.contract_a, cls.inv_a = cls._bill(cls.customer, D("2026-03-01"))
        cls.inv_b1 = cls._invoice(
            cls.cust_b,
            D("2026-05-01"),
            1000.0,
            invoice_payment_term_id=cls.two_installments.id,
        )
        cls.inv_b2 = cls._invoice(cls.cust_b, D("2026-04-01"), 300.0, due=D("2026-04-30"))
        cls.inv_c1 = cls._invoice(cls.cust_c, D("2026-04-01"), 80.0, due=D("2026-05-01"))
        cls.inv_c2 = cls._invoice(
            cls.cust_c, D("2026-06-01"), 400.0, due=D("2026-06-29"), company=cls.company_2
        )
        cls.inv_d = cls._invoice(cls.cust_d, D("2026-06-20"), 200.0, due=D("2026-07-15"))
        cls._pay(cls.inv_b1, 200.0, D("2026-06-10"))
        cls._pay(cls.inv_b2, 300.0, D("2026-07-05"))
        # an invoice paid before the date and a draft are never in the aging
        cls._pay(
            cls._invoice(cls.cust_d, D("2026-05-01"), 999.0, due=D("2026-05-05")),
            999.0,
            D("2026-05-02"),
        )
        cls.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": cls.cust_d.id,
                "invoice_date": D("2026-01-01"),
                "invoice_line_ids": [Command.create({"name": "Rascunho", "price_unit": 777.0})],
            }
        )
        cls.mine = [("partner_id", "in", (cls.customer | cls.cust_b | cls.cust_c | cls.cust_d).ids)]

    def test_fixture_due_dates(self):
        self.assertEqual(self.inv_a.invoice_date_due, D("2026-03-10"))
        self.assertEqual(
            self.inv_b1.line_ids.filtered(lambda line: line.display_type == "payment_term")
            .sorted("date_maturity")
            .mapped(lambda line: (line.date_maturity, line.amount_residual)),
            [(D("2026-05-31"), 300.0), (D("2026-06-30"), 500.0)],
        )
        self.assertEqual(self.inv_b2.payment_state, "paid")

    def test_buckets_at_end_of_june(self):
        aging = self._aging("2026-06-30", domain=self.mine)
        self.assertEqual(
            aging,
            {
                (self.customer.id, "90_plus"): 150.0,
                (self.cust_b.id, "1_30"): 300.0,
                (self.cust_b.id, "0_current"): 500.0,
                (self.cust_b.id, "61_90"): 300.0,
                (self.cust_c.id, "31_60"): 80.0,
                (self.cust_c.id, "1_30"): 400.0,
                (self.cust_d.id, "0_current"): 200.0,
            },
        )
        # by company
        self.assertEqual(
            self._aging("2026-06-30", ("company_id",), self.mine),
            {(self.env.company.id,): 1530.0, (self.company_2.id,): 400.0},
        )
        # bucket columns of one row
        Aging = self.env["rbm.receivable.aging"].with_context(rbm_aging_date="2026-06-30")
        row = Aging.search([("move_id", "=", self.inv_b1.id), ("aging_bucket", "=", "1_30")])
        self.assertRecordValues(
            row,
            [
                {
                    "as_of_date": D("2026-06-30"),
                    "date_maturity": D("2026-05-31"),
                    "days_overdue": 30,
                    "amount_original": 500.0,
                    "amount_residual": 300.0,
                    "amount_1_30": 300.0,
                    "amount_overdue": 300.0,
                    "amount_not_due": 0.0,
                    "portfolio_state": "overdue",
                }
            ],
        )

    def test_buckets_at_end_of_july_with_freeze_time(self):
        """Without a date in the context, the rows are aged today (Python's
        today, which freeze_time moves)."""
        with freeze_time("2026-07-31"):
            self.env.invalidate_all()
            aging = self._aging(domain=self.mine)
        self.assertEqual(
            aging,
            {
                (self.customer.id, "90_plus"): 150.0,
                (self.cust_b.id, "61_90"): 300.0,
                (self.cust_b.id, "31_60"): 500.0,
                (self.cust_c.id, "90_plus"): 80.0,
                (self.cust_c.id, "31_60"): 400.0,
                (self.cust_d.id, "1_30"): 200.0,
            },
        )
        # before the partial payment, the first installment was fully open
        self.assertEqual(
            self._aging(
                "2026-06-09", ("move_id", "date_maturity:day"), [("move_id", "=", self.inv_b1.id)]
            ),
            {(self.inv_b1.id, D("2026-05-31")): 500.0, (self.inv_b1.id, D("2026-06-30")): 500.0},
        )
        # before it was issued, an invoice is not in the aging
        self.assertEqual(
            self._aging("2026-06-19", ("partner_id",), [("partner_id", "=", self.cust_d.id)]), {}
        )

    def test_dimensions_and_portfolio(self):
        Aging = self.env["rbm.receivable.aging"].with_context(rbm_aging_date="2026-06-30")
        row_a = Aging.search([("move_id", "=", self.inv_a.id)])
        self.assertRecordValues(
            row_a,
            [
                {
                    "contract_id": self.contract_a.id,
                    "plan_id": self.plan.id,
                    "payment_method": "boleto",
                    "boleto_id": self.inv_a.rbm_boleto_ids.id,
                    "boleto_state": "draft",
                    "legal_collection": False,
                    "portfolio_state": "overdue",
                }
            ],
        )
        self.inv_a.rbm_boleto_ids.state = "protested"
        self.inv_c1.rbm_legal_collection = True
        portfolio = self._aging(
            "2026-06-30", ("payment_method", "boleto_state", "portfolio_state"), self.mine
        )
        self.assertEqual(
            portfolio,
            {
                ("boleto", "protested", "protest"): 150.0,
                (False, False, "protest"): 80.0,
                (False, False, "overdue"): 1000.0,
                (False, False, "not_due"): 700.0,
            },
        )

    def test_company_rule(self):
        """Another company's installments are not shown to a user of one company."""
        Aging = (
            self.env["rbm.receivable.aging"]
            .with_context(rbm_aging_date="2026-06-30", allowed_company_ids=[self.company_2.id])
            .with_user(self.env.user)
        )
        self.assertEqual(Aging.search(self.mine).move_id, self.inv_c2)

    def test_xlsx(self):
        content = self.env["rbm.receivable.aging"]._get_aging_xlsx(D("2026-06-30"))
        sheets = read_xlsx(content)
        self.assertEqual(list(sheets), ["Aging", "Portfolio", "Installments"])
        aging = sheets["Aging"]
        self.assertEqual(aging[0][0], "As of 30/06/2026")
        self.assertEqual(
            aging[2],
            [
                "Company",
                "Customer",
                "Current",
                "1-30 days",
                "31-60 days",
                "61-90 days",
                "90+ days",
                "Total",
                "Oldest (days)",
            ],
        )
        by_name = {
            (row[0], row[1]): row[2:]
            for row in aging[3:]
            if row[1] in (self.customer.name, self.cust_b.name, self.cust_c.name, self.cust_d.name)
        }
        company = self.env.company.name
        self.assertEqual(by_name[(company, self.customer.name)], [0, 0, 0, 0, 150, 150, 112])
        self.assertEqual(by_name[(company, self.cust_b.name)], [500, 300, 0, 300, 0, 1100, 61])
        self.assertEqual(by_name[(company, self.cust_c.name)], [0, 0, 80, 0, 0, 80, 60])
        self.assertEqual(by_name[("Filial Rio", self.cust_c.name)], [0, 400, 0, 0, 0, 400, 1])
        self.assertEqual(by_name[(company, self.cust_d.name)], [200, 0, 0, 0, 0, 200, 0])
        totals = {row[0]: row[2:8] for row in aging[3:] if row[0] and row[0].startswith("Total")}
        self.assertEqual(totals["Total Filial Rio"], [0, 400, 0, 0, 0, 400])
        # companies share the currency: a grand total, the sum of the company totals
        company_totals = [v for k, v in totals.items() if k != "Total"]
        self.assertEqual(
            totals["Total"], [round(sum(c), 2) for c in zip(*company_totals, strict=True)]
        )
        # the grand total is the sum of every installment of the detail sheet
        detail = sheets["Installments"]
        amounts = [row[12] for row in detail[3:-1]]
        self.assertEqual(detail[-1][0], "Total")
        self.assertAlmostEqual(detail[-1][12], sum(amounts), places=2)
        self.assertAlmostEqual(totals["Total"][5], detail[-1][12], places=2)
        mine = [row for row in detail[3:-1] if row[2] == self.inv_b1.name]
        self.assertEqual(
            [(row[9], row[10], row[11], row[12]) for row in mine],
            [
                (datetime(2026, 5, 31), 30, "1-30 days", 300),
                (datetime(2026, 6, 30), 0, "Current", 500),
            ],
        )
        # portfolio: the boleto of the contract, overdue
        portfolio = sheets["Portfolio"]
        self.assertEqual(
            portfolio[2],
            [
                "Company",
                "Payment Method",
                "Boleto Status",
                "Installments",
                "To Be Due",
                "Overdue",
                "In Protest / Legal",
                "Total",
            ],
        )
        boleto_rows = [row for row in portfolio[3:] if row[0] == company and row[1] == "Boleto"]
        self.assertTrue(boleto_rows)
        self.assertIn(150.0, [row[5] for row in boleto_rows])

    def test_wizard_download_and_actions(self):
        wizard = self.env["rbm.aging.report.wizard"].create({"date": D("2026-06-30")})
        action = wizard.action_export_xlsx()
        self.assertIn("aging-2026-06-30.xlsx", action["url"])
        self.assertIn("Aging", read_xlsx(base64.b64decode(wizard.xlsx_file)))
        action = wizard.action_open_portfolio()
        self.assertEqual(action["context"]["rbm_aging_date"], "2026-06-30")
        self.assertEqual(action["context"]["pivot_column_groupby"], ["portfolio_state"])
        self.assertIn("30/06/2026", action["name"])


@tagged("post_install", "-at_install")
class TestCollectionStatus(DelinquencyCase):
    def _status(self, partner):
        self.env.invalidate_all()
        return (
            partner.rbm_collection_status,
            partner.rbm_overdue_amount,
            partner.rbm_overdue_days,
        )

    def _search(self, status):
        Partner = self.env["res.partner"]
        ids = (self.customer | self.contact | self.cust_b).ids
        return Partner.search([("id", "in", ids), ("rbm_collection_status", "=", status)])

    def test_status_transitions(self):
        self.contact = self.env["res.partner"].create(
            {"name": "Financeiro", "parent_id": self.customer.id, "type": "invoice"}
        )
        with freeze_time("2026-03-01"):
            contract, invoice = self._bill(self.customer, D("2026-03-01"))
            self.assertEqual(self._status(self.customer), ("current", 0.0, 0))
        with freeze_time("2026-03-10"):
            # due today: not late yet
            self.assertEqual(self._status(self.customer), ("current", 0.0, 0))
            self.assertEqual(self._search("current"), self.customer | self.contact | self.cust_b)
        with freeze_time("2026-03-11"):
            self.assertEqual(self._status(self.customer), ("late", 150.0, 1))
            self.assertEqual(self._status(self.contact), ("late", 150.0, 1))
            self.assertEqual(self._search("late"), self.customer | self.contact)
            self.assertEqual(self._search("current"), self.cust_b)
            self.assertEqual(
                self.env["res.partner"].search(
                    [
                        ("id", "in", (self.customer | self.cust_b).ids),
                        ("rbm_collection_status", "!=", "late"),
                    ]
                ),
                self.cust_b,
            )
        with freeze_time("2026-04-20"):
            self.assertEqual(self._status(self.customer), ("late", 150.0, 41))
            self.assertEqual(
                self.env["res.partner"].search(
                    [("id", "in", (self.customer | self.cust_b).ids), ("rbm_overdue_days", ">", 40)]
                ),
                self.customer,
            )
            contract._suspend(D("2026-04-20"))
            self.assertEqual(contract.state, "suspended")
            self.assertEqual(self._status(self.customer), ("suspended", 150.0, 41))
            self.assertEqual(self._search("suspended"), self.customer | self.contact)
            invoice.rbm_legal_collection = True
            self.assertEqual(self._status(self.customer)[0], "legal")
            self.assertEqual(self._search("legal"), self.customer | self.contact)
            self.assertEqual(
                self.env["res.partner"].search(
                    [
                        ("id", "in", (self.customer | self.cust_b).ids),
                        ("rbm_collection_status", "in", ["legal", "current"]),
                    ]
                ),
                self.customer | self.cust_b,
            )
            invoice.rbm_legal_collection = False
            invoice.rbm_boleto_ids.state = "protested"
            self.assertEqual(self._status(self.customer)[0], "legal")
        with freeze_time("2026-04-25"):
            self._pay(invoice, 150.0, D("2026-04-25"))
            # paid: the protested boleto no longer counts, the suspension still does
            self.assertEqual(self._status(self.customer), ("suspended", 0.0, 0))
            contract._reactivate(D("2026-04-25"))
            self.assertEqual(self._status(self.customer), ("current", 0.0, 0))
            self.assertEqual(self._search("current"), self.customer | self.contact | self.cust_b)

    def test_other_company_does_not_count(self):
        """Only the active companies count (the company switcher)."""
        other = self.setup_other_company(name="Outra")["company"]
        self._invoice(self.cust_b, D("2026-01-01"), 50.0, due=D("2026-01-02"), company=other)
        self.env.user.company_ids |= other
        Partner = self.env["res.partner"]
        with freeze_time("2026-03-01"):
            one = Partner.with_context(allowed_company_ids=[self.env.company.id])
            self.assertEqual(one.browse(self.cust_b.id).rbm_collection_status, "current")
            self.assertFalse(
                one.search([("id", "=", self.cust_b.id), ("rbm_collection_status", "=", "late")])
            )
            both = Partner.with_context(allowed_company_ids=[self.env.company.id, other.id])
            self.assertEqual(both.browse(self.cust_b.id).rbm_collection_status, "late")
            self.assertEqual(both.browse(self.cust_b.id).rbm_overdue_days, 58)

    def test_bad_search(self):
        with self.assertRaisesRegex(UserError, "Collection Status: operator like"):
            self.env["res.partner"].search([("rbm_collection_status", "like", "la")])
        with self.assertRaisesRegex(UserError, "Oldest Overdue"):
            self.env["res.partner"].search([("rbm_overdue_days", ">", "ninety")])

    def test_partner_aging_action(self):
        with freeze_time("2026-03-20"):
            _contract, invoice = self._bill(self.customer, D("2026-03-01"))
            contact = self.env["res.partner"].create(
                {"name": "Cobrança", "parent_id": self.customer.id}
            )
            action = contact.action_rbm_view_aging()
            self.assertEqual(action["res_model"], "rbm.receivable.aging")
            rows = self.env["rbm.receivable.aging"].search(action["domain"])
            self.assertEqual(rows.move_id, invoice)
            self.assertEqual(rows.days_overdue, 10)


@tagged("post_install", "-at_install")
class TestDelinquencyKpi(DelinquencyCase):
    """Contract invoices of the company (150 a month plan, due on the 10th;
    yearly plan 300):

    == ======== ========= ========= ================================ ==========
    .  customer invoiced  due       payments                         open 30/06
    == ======== ========= ========= ================================ ==========
    X  A        01/03     10/03     -                                150 overdue
    Y  B        01/05     10/05     150 on 09/05                     0
    Z  C        01/06     10/06     50 on 20/06                      100 overdue
    W  D yearly 25/06     10/07     -                                300 current
    == ======== ========= ========= ================================ ==========
    plus a 500 invoice of A without contract, overdue (not counted).
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.yearly = cls.env["rbm.plan"].create(
            {
                "name": "Anual",
                "interval_unit": "year",
                "line_ids": [
                    Command.create(
                        {"product_id": cls.product.id, "quantity": 1, "price_unit": 300.0}
                    )
                ],
            }
        )
        cls.x, cls.inv_x = cls._bill(cls.customer, D("2026-03-01"))
        cls.y, cls.inv_y = cls._bill(cls.cust_b, D("2026-05-01"))
        cls.z, cls.inv_z = cls._bill(cls.cust_c, D("2026-06-01"))
        cls.w, cls.inv_w = cls._bill(cls.cust_d, D("2026-06-25"), plan=cls.yearly)
        cls._pay(cls.inv_y, 150.0, D("2026-05-09"))
        cls._pay(cls.inv_z, 50.0, D("2026-06-20"))
        cls._invoice(cls.customer, D("2026-04-01"), 500.0, due=D("2026-04-05"))

    def _kpis(self, date_from, date_to, **filters):
        return self.env["rbm.kpi"]._get_kpis(
            D(date_from), D(date_to), company_ids=[self.env.company.id], **filters
        )

    def test_fixture(self):
        self.assertEqual(
            [
                (m.invoice_date, m.invoice_date_due, m.amount_total)
                for m in self.inv_x | self.inv_y | self.inv_z | self.inv_w
            ],
            [
                (D("2026-03-01"), D("2026-03-10"), 150.0),
                (D("2026-05-01"), D("2026-05-10"), 150.0),
                (D("2026-06-01"), D("2026-06-10"), 150.0),
                (D("2026-06-25"), D("2026-07-10"), 300.0),
            ],
        )

    def test_delinquency_rate_and_dso(self):
        k = self._kpis("2026-05-01", "2026-06-30")
        # open at 30/06: X 150 + Z 100 + W 300 = 550, of which X + Z = 250 overdue
        self.assertEqual((k["receivables"], k["overdue_receivables"]), (550.0, 250.0))
        self.assertAlmostEqual(k["delinquency_rate"], 250 / 550)
        # invoiced in the 61 days: Y 150 + Z 150 + W 300 = 600; DSO = 550 / 600 * 61
        self.assertEqual(k["credit_sales"], 600.0)
        self.assertEqual(k["dso"], 55.9)

    def test_plan_filter(self):
        k = self._kpis("2026-05-01", "2026-06-30", plan_ids=[self.yearly.id])
        self.assertEqual(k["delinquency_rate"], 0.0)
        self.assertEqual(k["dso"], 61.0)  # 300 / 300 * 61

    def test_end_of_may(self):
        """At 31/05 only X is open (Y was paid on 09/05; Z not yet invoiced)."""
        k = self._kpis("2026-05-01", "2026-05-31")
        self.assertEqual(k["delinquency_rate"], 1.0)
        self.assertEqual(k["dso"], 31.0)  # 150 / 150 (Y) * 31

    def test_nothing_open(self):
        k = self._kpis("2026-01-01", "2026-01-31")
        self.assertIsNone(k["delinquency_rate"])
        self.assertIsNone(k["dso"])

    def test_xlsx_and_drilldown(self):
        k = self._kpis("2026-05-01", "2026-06-30")
        summary = {
            row[0]: row[1] for row in read_xlsx(self.env["rbm.kpi"]._get_kpi_xlsx(k))["KPIs"]
        }
        self.assertAlmostEqual(summary["Delinquency rate"], 250 / 550)
        self.assertEqual(summary["DSO (days sales outstanding)"], 55.9)
        self.assertEqual(summary["Overdue receivables"], 250.0)
        action = self.env["rbm.kpi"].action_kpi_drilldown(
            "delinquency_rate",
            {
                "date_to": "2026-06-30",
                "months": 2,
                "filters": {"company_ids": [self.env.company.id]},
            },
        )
        self.assertEqual(action["res_model"], "rbm.receivable.aging")
        rows = (
            self.env["rbm.receivable.aging"]
            .with_context(**action["context"])
            .search(action["domain"])
        )
        self.assertEqual(rows.move_id, self.inv_x | self.inv_z)
        self.assertEqual(sum(rows.mapped("amount_residual")), 250.0)


@tagged("post_install", "-at_install")
class TestOverdueBanner(DelinquencyCase, HttpCase):
    """Two portal customers: Lia is late, Rui is not."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ir.config_parameter"].sudo().set_param(
            "account_payment.enable_portal_payment", True
        )
        today = fields.Date.today()
        cls.lia = new_test_user(cls.env, "lia_portal", groups="base.group_portal", name="Lia")
        cls.rui = new_test_user(cls.env, "rui_portal", groups="base.group_portal", name="Rui")
        cls.contract_lia = cls.env["rbm.contract"].create(
            {"partner_id": cls.lia.partner_id.id, "plan_id": cls.plan.id, "date_start": today}
        )
        cls.contract_rui = cls.env["rbm.contract"].create(
            {"partner_id": cls.rui.partner_id.id, "plan_id": cls.plan.id, "date_start": today}
        )
        (cls.contract_lia | cls.contract_rui).action_activate()
        # a card provider the company can take payments with (the demo one)
        cls.card_provider = (
            cls.env.ref("payment.payment_provider_demo")
            .sudo()
            .copy({"company_id": cls.env.company.id, "state": "test"})
        )
        cls.late = cls._invoice(
            cls.lia.partner_id,
            today - timedelta(days=40),
            123.45,
            due=today - timedelta(days=10),
            rbm_contract_id=cls.contract_lia.id,
            rbm_collection_account_id=cls.account.id,
        )
        cls.not_due = cls._invoice(
            cls.rui.partner_id,
            today - timedelta(days=5),
            98.76,
            due=today + timedelta(days=10),
            rbm_contract_id=cls.contract_rui.id,
            rbm_collection_account_id=cls.account.id,
        )

    def test_banner_only_for_the_late_customer(self):
        self.assertTrue(self.late.rbm_boleto_ids)
        self.authenticate("lia_portal", "lia_portal")
        page = self.url_open("/my").text
        self.assertIn("o_rbm_overdue_banner", page)
        self.assertIn(self.late.name, page)
        self.assertIn("123.45", page)
        self.assertIn("o_rbm_pay_boleto", page)
        self.assertIn(f"/my/invoices/{self.late.id}/boleto", page)
        self.assertIn("o_rbm_pay_pix", page)
        self.assertIn("o_rbm_pay_card", page)
        self.assertIn('<td class="text-end">10</td>', page)  # days overdue
        page = self.url_open(f"/my/subscriptions/{self.contract_lia.id}").text
        self.assertIn("o_rbm_overdue_banner", page)
        self.assertIn(self.late.name, page)

        self.authenticate("rui_portal", "rui_portal")
        page = self.url_open("/my").text
        self.assertNotIn("o_rbm_overdue_banner", page)
        self.assertNotIn(self.late.name, page)
        page = self.url_open(f"/my/subscriptions/{self.contract_rui.id}").text
        self.assertIn(self.contract_rui.name, page)
        self.assertNotIn("o_rbm_overdue_banner", page)
        # Lia's subscription page is not Rui's to see
        page = self.url_open(f"/my/subscriptions/{self.contract_lia.id}").text
        self.assertNotIn(self.late.name, page)

    def test_days_overdue_in_the_customer_time_zone(self):
        """At any hour of the run, one of UTC+14 and UTC-12 is on another day
        than UTC: the banner counts days overdue on the customer's day."""
        self.authenticate("lia_portal", "lia_portal")
        differs = False
        for tz in ("Etc/GMT-14", "Etc/GMT+12"):
            self.lia.partner_id.tz = tz
            local_today = self.lia.partner_id._rbm_get_today()
            days = (local_today - self.late.invoice_date_due).days
            differs |= days != (fields.Date.today() - self.late.invoice_date_due).days
            for url in ("/my", f"/my/subscriptions/{self.contract_lia.id}"):
                page = self.url_open(url).text
                self.assertIn(f'<td class="text-end">{days}</td>', page, f"{tz} on {url}")
        self.assertTrue(differs, "one of the two time zones is on another day than UTC")

    def test_banner_offers_only_ways_to_pay_that_work(self):
        """A card only with a provider that can take the payment; Pix for an
        invoice with its own Pix code (no boleto)."""
        self.card_provider.state = "disabled"
        self.authenticate("lia_portal", "lia_portal")
        page = self.url_open("/my").text
        self.assertIn("o_rbm_pay_boleto", page)
        self.assertNotIn("o_rbm_pay_card", page)
        self.card_provider.state = "test"
        self.assertIn("o_rbm_pay_card", self.url_open("/my").text)
        # a Pix invoice (own Pix code, no boleto): Pix, pointing at its code
        self.late.rbm_boleto_ids.unlink()
        self.late.action_rbm_issue_pix()
        page = self.url_open("/my").text
        self.assertNotIn("o_rbm_pay_boleto", page)
        self.assertIn("o_rbm_pay_pix", page)
        self.assertIn("#rbm_pix", page)

    def test_banner_gone_after_payment(self):
        self._pay(self.late, 123.45, fields.Date.today())
        self.authenticate("lia_portal", "lia_portal")
        self.assertNotIn("o_rbm_overdue_banner", self.url_open("/my").text)
        page = self.url_open(f"/my/subscriptions/{self.contract_lia.id}").text
        self.assertIn(self.contract_lia.name, page)
        self.assertNotIn("o_rbm_overdue_banner", page)
