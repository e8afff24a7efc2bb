import importlib.util
from datetime import date
from pathlib import Path

from freezegun import freeze_time
from lxml import html

from odoo import Command
from odoo.exceptions import UserError, ValidationError
from odoo.tests import Form, HttpCase, tagged

from .common import RbmBillingCase, d

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations" / "18.0.1.1.0"


def _load_migration(name):
    spec = importlib.util.spec_from_file_location(f"rbm_terms_{name}", MIGRATIONS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@tagged("post_install", "-at_install")
class TestCommitmentEnd(RbmBillingCase):
    """A 12-month commitment (01/01/2026 to 31/12/2026) at 100 a month, with a
    fee of 50% of the MRR of each remaining month (a month begun counts
    whole), under each end-of-commitment option."""

    def _run(self, day):
        self._run_night(day)

    def _contract(self, action, partner=None):
        plan = self._make_plan(
            commitment_months=12,
            early_termination_fee_type="percent",
            early_termination_fee=50.0,
            commitment_end_action=action,
            renewal_months=12,
        )
        contract = self._make_contract(plan, d("2026-01-01"), partner=partner)
        self.assertEqual(contract.commitment_end, d("2026-12-31"))
        self.assertEqual(contract.commitment_end_action, action)
        return contract

    def _cancel(self, contract, day):
        """Cancel now through the wizard, as the back office does; returns
        the preview shown and the fee invoiced."""
        with freeze_time(day):
            action = contract.action_cancel_wizard()
            wizard = Form(self.env[action["res_model"]].with_context(action["context"]))
            wizard.reason_id = self.env.ref("rbm_recurring.cancel_reason_price")
            wizard.timing = "now"
            preview = wizard.preview
            wizard.save().action_confirm()
        fee = self.env["account.move"].search(
            [("rbm_contract_id", "=", contract.id), ("rbm_termination_fee", "=", True)]
        )
        return preview, fee

    def test_month_6_costs_the_fee_under_every_option(self):
        for action, partner in (
            ("continue", self.customer_a),
            ("renew", self.customer_b),
            ("end", self.customer_a),
        ):
            with self.subTest(action=action):
                contract = self._contract(action, partner)
                self._run("2026-06-01")
                preview, fee = self._cancel(contract, "2026-06-10")
                # last day 10/06; 11/06/2026 to 01/01/2027 = 6 months 21 days -> 7
                # months x 100 x 50% = 350
                self.assertEqual(fee.amount_total, 350.0)
                self.assertIn("commitment until 12/31/2026", preview)
                self.assertIn("350.00", preview)

    def test_month_13_continue_costs_no_fee(self):
        contract = self._contract("continue")
        self._run("2026-12-01")
        with freeze_time("2026-12-10"):
            contract.invalidate_recordset(["commitment_info"])
            # 11/12 to 01/01/2027: 21 days -> 1 month x 100 x 50% = 50
            self.assertEqual(
                contract.commitment_info,
                "Commitment until 12/31/2026: early-termination fee today $\xa050.00",
            )
        self._run("2027-01-01")
        # nothing renews, nothing ends: billed on at the current price
        self.assertEqual((contract.state, contract.date_end), ("active", False))
        self.assertEqual(contract.commitment_end, d("2026-12-31"))
        self._run("2027-01-15")
        with freeze_time("2027-01-15"):
            contract.invalidate_recordset(["commitment_info"])
            self.assertEqual(
                contract.commitment_info,
                "Commitment ended on 12/31/2026: cancellation without fee",
            )
        preview, fee = self._cancel(contract, "2027-01-15")
        self.assertFalse(fee)
        self.assertIn("Commitment ended on 12/31/2026: no early-termination fee", preview)
        self.assertEqual(contract.state, "cancelled")
        # 12 months of 2026 and January 2027, all at 100
        invoices = self._invoices(contract).filtered(lambda m: m.move_type == "out_invoice")
        self.assertEqual(invoices.mapped("amount_total"), [100.0] * 13)

    def test_month_13_renew_costs_the_fee_again(self):
        contract = self._contract("renew")
        self._run("2026-12-01")
        notice = contract.message_ids.filtered(lambda m: "renewal" in (m.subject or ""))
        self.assertIn("early-termination fee applies again", notice.body)
        self._run("2027-01-01")
        self.assertEqual(contract.commitment_end, d("2027-12-31"))
        self._run("2027-01-15")
        preview, fee = self._cancel(contract, "2027-01-15")
        # 16/01/2027 to 01/01/2028 = 11 months 16 days -> 12 months x 100 x 50% = 600
        self.assertEqual(fee.amount_total, 600.0)
        self.assertIn("commitment until 12/31/2027", preview)

    def test_renewed_commitment_counts_even_before_the_run(self):
        """The fee follows the commitment in force on the last day of service,
        whether or not the lifecycle has moved the date yet."""
        contract = self._contract("renew")
        # 31/12/2027: the second renewed term (01/01/2028 to 31/12/2028) is in force
        # on 15/01/2028: 16/01/2028 to 01/01/2029 = 11 months 16 days -> 12 x 50 = 600
        self.assertEqual(contract._get_commitment_end_on(d("2028-01-15")), d("2028-12-31"))
        self.assertEqual(contract._get_early_termination_fee(d("2028-01-15")), 600.0)
        # on the last day of a term nothing is due
        self.assertEqual(contract._get_early_termination_fee(d("2026-12-31")), 0.0)

    def test_end_expires_and_cannot_be_cancelled_after(self):
        contract = self._contract("end")
        self.assertEqual(contract.date_end, d("2026-12-31"))
        self._run("2027-01-01")
        self.assertEqual(contract.state, "expired")
        with freeze_time("2027-01-15"), self.assertRaisesRegex(UserError, "cannot be cancelled"):
            contract._prepare_cancellation("now")
        self.assertEqual(len(self._invoices(contract)), 12)

    def test_contract_overrides_the_plan(self):
        """A contract of a renewing plan set to continue on its form: no fee
        in month 13; set to end, it stops with the commitment, and back."""
        contract = self._contract("renew")
        with freeze_time("2026-03-01"):
            form = Form(contract)
            form.commitment_end_action = "end"
            form.save()
            self.assertEqual(contract.date_end, d("2026-12-31"))
            form.commitment_end_action = "continue"
            form.save()
            self.assertFalse(contract.date_end)
        self._run("2027-01-01")
        self.assertEqual(contract.commitment_end, d("2026-12-31"))  # not renewed
        _preview, fee = self._cancel(contract, "2027-01-15")
        self.assertFalse(fee)

    def test_contract_overrides_the_renewal_term(self):
        """A renewing plan of 12-month renewals; this contract renews for 6,
        set on its form: 31/12/2026 then 30/06/2027, 31/12/2027..."""
        contract = self._contract("renew")
        self.assertEqual(contract.renewal_months, 12)  # the plan's
        with freeze_time("2026-03-01"):
            form = Form(contract)
            form.renewal_months = 6
            form.save()
        self.assertEqual(contract._get_commitment_end_on(d("2027-01-15")), d("2027-06-30"))
        self.assertEqual(contract._get_commitment_end_on(d("2027-07-01")), d("2027-12-31"))
        self._run("2026-12-01")
        notice = contract.message_ids.filtered(lambda m: "renewal" in (m.subject or ""))
        self.assertIn("for 6 months", " ".join(notice.body.split()))
        self._run("2027-01-01")
        self.assertEqual(contract.commitment_end, d("2027-06-30"))
        self._run("2027-01-15")
        _preview, fee = self._cancel(contract, "2027-01-15")
        # 16/01/2027 to 01/07/2027 = 5 months 15 days -> 6 months x 100 x 50% = 300
        self.assertEqual(fee.amount_total, 300.0)
        with self.assertRaisesRegex(ValidationError, "Renewal Term"):
            self._contract("renew", self.customer_b).renewal_months = 0

    def test_cannot_end_with_a_commitment_already_over(self):
        contract = self._contract("continue")
        self._run("2027-01-01")
        with freeze_time("2027-01-10"), self.assertRaisesRegex(UserError, "already ended"):
            contract.commitment_end_action = "end"

    def test_migration_sets_the_option_from_the_former_renewal_checkbox(self):
        renewing = self._contract("renew")
        ending = self._contract("end", self.customer_b)
        cr = self.env.cr
        self.env.flush_all()
        # the database as the previous version left it
        cr.execute("ALTER TABLE rbm_plan ADD COLUMN auto_renew boolean")
        cr.execute("ALTER TABLE rbm_plan ALTER COLUMN commitment_end_action DROP NOT NULL")
        cr.execute(
            "UPDATE rbm_plan SET auto_renew = (id = %s), commitment_end_action = NULL",
            [renewing.plan_id.id],
        )
        cr.execute(
            "UPDATE rbm_contract SET commitment_end_action = NULL WHERE id IN %s",
            [(renewing.id, ending.id)],
        )
        pre = _load_migration("pre-migration")
        pre.migrate(cr, "18.0.1.0.0")
        pre.migrate(cr, "18.0.1.0.0")  # a second run changes nothing
        self.env.invalidate_all()
        self.assertEqual(renewing.plan_id.commitment_end_action, "renew")
        self.assertEqual(ending.plan_id.commitment_end_action, "end")
        self.assertEqual(renewing.commitment_end_action, "renew")
        self.assertEqual(ending.commitment_end_action, "end")


@tagged("post_install", "-at_install")
class TestCustomerMovements(RbmBillingCase):
    """MRR movements typed by customer, over a book of its own company.

    ======== ================================= =============================
    customer contracts                         movements (customer's type)
    ======== ================================= =============================
    R        R1 300 from 01/01, cancelled 10/03 new 01/01, churn 11/03
             R2 300 from 01/04                 reactivation 01/04
    S        S1 100 + S2 200 from 01/01,        new 01/01 (both);
             both cancelled 30/04,              expansion 01/05 (the three:
             S3 400 from 01/05                  -100 -200 +400 = +100)
    T        T 100 from 01/01                   new 01/01
    U        U 200 from 01/02, cancelled 30/06  new 01/02, churn 01/07
    ======== ================================= =============================
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        company = cls.env["res.company"].create(
            {"name": "RBM Terms Book", "currency_id": cls.currency.id}
        )
        cls.env["account.chart.template"].try_loading("generic_coa", company, install_demo=False)
        cls.env.user.company_ids |= company
        cls.env.user.company_id = company
        cls.env = cls.env(context=dict(cls.env.context, allowed_company_ids=[company.id]))
        cls.company = company
        Partner = cls.env["res.partner"]
        cls.cust = {name: Partner.create({"name": f"Cliente {name}"}) for name in "RSTU"}
        product = cls._make_product("Plano", 100.0)
        plans = {
            price: cls._make_plan([(product, 1, price)], name=f"Plano {price}")
            for price in (100.0, 200.0, 300.0, 400.0)
        }
        reason = cls.env.ref("rbm_recurring.cancel_reason_price")

        def start(name, price, day):
            with freeze_time(day):
                return cls._make_contract(plans[price], d(day), partner=cls.cust[name])

        def cancel(contract, day):
            with freeze_time(day):
                contract._cancel(reason, "now")

        cls.r1 = start("R", 300.0, "2026-01-01")
        cls.s1 = start("S", 100.0, "2026-01-01")
        cls.s2 = start("S", 200.0, "2026-01-01")
        cls.t = start("T", 100.0, "2026-01-01")
        cls.u = start("U", 200.0, "2026-02-01")
        cancel(cls.r1, "2026-03-10")
        cls.r2 = start("R", 300.0, "2026-04-01")
        cancel(cls.s1, "2026-04-30")
        cancel(cls.s2, "2026-04-30")
        cls.s3 = start("S", 400.0, "2026-05-01")
        cancel(cls.u, "2026-06-30")
        cls.Kpi = cls.env["rbm.kpi"]

    def _types(self, contract):
        events = contract.mrr_event_ids.sorted(lambda e: (e.date, e.id))
        return [(e.date, e.contract_event_type, e.event_type, e.delta) for e in events]

    def test_returning_customer_is_a_reactivation(self):
        self.assertEqual(
            self._types(self.r1),
            [(d("2026-01-01"), "new", "new", 300.0), (d("2026-03-11"), "churn", "churn", -300.0)],
        )
        # the contract's own history says new; the customer's, reactivation
        self.assertEqual(self._types(self.r2), [(d("2026-04-01"), "new", "reactivation", 300.0)])

    def test_contracts_replaced_the_same_day_net_to_expansion(self):
        may = d("2026-05-01")
        self.assertEqual(self._types(self.s1)[-1], (may, "churn", "expansion", -100.0))
        self.assertEqual(self._types(self.s2)[-1], (may, "churn", "expansion", -200.0))
        self.assertEqual(self._types(self.s3), [(may, "new", "expansion", 400.0)])
        # S1 and S2 on 01/01 together: the customer's MRR goes from 0 to 300, new
        self.assertEqual(self._types(self.s2)[0][2], "new")
        # the customer's MRR row after row that day: 300 -> 200 -> 0 -> 400
        rows = (self.s1 | self.s2 | self.s3).mrr_event_ids.filtered(lambda e: e.date == may)
        self.assertEqual(
            [(e.customer_mrr_before, e.customer_mrr_after) for e in rows.sorted("id")],
            [(300.0, 200.0), (200.0, 0.0), (0.0, 400.0)],
        )

    def test_contract_moved_to_another_customer(self):
        """U's contract given to T (who has 100 since January): its start is
        an expansion of T, its end a contraction."""
        self.u.partner_id = self.cust["T"]
        self.assertEqual(
            [
                (e.event_type, e.customer_mrr_before, e.customer_mrr_after)
                for e in self._events(self.u)
            ],
            [("expansion", 100.0, 300.0), ("contraction", 300.0, 100.0)],
        )

    def _events(self, contract):
        return contract.mrr_event_ids.sorted(lambda e: (e.date, e.id))

    def test_kpis_over_the_book(self):
        kpis = self.Kpi._get_kpis(d("2026-02-01"), d("2026-07-31"))
        # opening 31/01: R 300 + S 300 + T 100 = 700, three customers
        self.assertEqual((kpis["mrr_start"], kpis["customers_start"]), (700.0, 3))
        # new: U 200; reactivation: R 300; churn: R -300 (11/03), U -200 (01/07);
        # expansion: S -100 -200 +400 = +100; net 200 + 300 - 500 + 100 = 100
        movements = {k: kpis[k] for k in ("new", "expansion", "contraction", "churn")}
        self.assertEqual(
            movements, {"new": 200.0, "expansion": 100.0, "contraction": 0.0, "churn": -500.0}
        )
        self.assertEqual((kpis["reactivation"], kpis["net_new"]), (300.0, 100.0))
        # closing: R 300 + S 400 + T 100 = 800 = 700 + 100
        self.assertEqual((kpis["mrr"], kpis["active_customers"]), (800.0, 3))
        # R, S, T all active at both ends: no logo lost over the period
        self.assertEqual(kpis["logo_churn_rate"], 0.0)
        # gross MRR churn: R's 300 of the customers at the start (S's rows are
        # expansion, U was not there) -> 300 / 700
        self.assertEqual(kpis["revenue_churn"], 300.0)
        self.assertAlmostEqual(kpis["revenue_churn_rate"], 3 / 7)
        self.assertAlmostEqual(kpis["grr"], 4 / 7)
        # NRR: their closing MRR 300 + 400 + 100 = 800 / 700
        self.assertAlmostEqual(kpis["nrr"], 8 / 7)
        self.assertEqual(kpis["arpa"], 266.67)  # 800 / 3
        months = {m["month"]: m for m in kpis["months"]}
        march, july = months[d("2026-03-01")], months[d("2026-07-01")]
        # March: 4 customers (R S T U, 900) at the start, R leaves: 1/4, 300/900
        self.assertEqual((march["customers_start"], march["churned_customers"]), (4, 1))
        self.assertEqual(march["logo_churn_rate"], 0.25)
        self.assertAlmostEqual(march["revenue_churn_rate"], 1 / 3)
        # April: R back, reactivation 300
        self.assertEqual(months[d("2026-04-01")]["reactivation"], 300.0)
        self.assertEqual(months[d("2026-04-01")]["new"], 0.0)
        # May: S's replacement, one expansion of 100, no churn, no new
        may = months[d("2026-05-01")]
        self.assertEqual((may["expansion"], may["churn"], may["new"]), (100.0, 0.0, 0.0))
        self.assertEqual(may["logo_churn_rate"], 0.0)
        # July: U leaves, 1 of 4 customers, 200 of 1000
        self.assertEqual(july["logo_churn_rate"], 0.25)
        self.assertAlmostEqual(july["revenue_churn_rate"], 0.2)
        # average monthly gross MRR churn (0 + 1/3 + 0 + 0 + 0 + 1/5) / 6 = 4/45;
        # LTV = ARPA 266.67 / (4/45) = 3000.0375 -> 3000.04
        self.assertAlmostEqual(kpis["avg_monthly_revenue_churn_rate"], 4 / 45)
        self.assertEqual(kpis["ltv"], 3000.04)

    def test_cohorts_by_customer(self):
        kpis = self.Kpi._get_kpis(d("2026-01-01"), d("2026-07-31"))
        cohorts = {c["month"]: c for c in kpis["cohorts"]}
        # January: R, S, T (R's return in April is no cohort of its own);
        # starting MRR 300 + 100 + 200 + 100 = 700
        self.assertEqual(sorted(cohorts), [d("2026-01-01"), d("2026-02-01")])
        january = cohorts[d("2026-01-01")]
        self.assertEqual((january["customers"], january["mrr"]), (3, 700.0))
        cells = [(c["customers"], c["mrr"]) for c in january["cells"]]
        # Jan, Feb: all; Mar: S T (400); Apr: back to 700; May-Jul: S at 400 -> 800
        self.assertEqual(
            cells,
            [(3, 700.0), (3, 700.0), (2, 400.0), (3, 700.0), (3, 800.0), (3, 800.0), (3, 800.0)],
        )
        february = cohorts[d("2026-02-01")]
        # U: Feb-Jun 200, gone at the end of July
        self.assertEqual([c["customer_rate"] for c in february["cells"]], [1, 1, 1, 1, 1, 0])

    def test_recompute_is_idempotent(self):
        """The migration types the stored rows once; running it again writes
        nothing and gives the same rows."""
        Event = self.env["rbm.mrr.event"]
        events = Event.search([("company_id", "=", self.company.id)])
        expected = sorted((e.id, e.event_type, e.customer_mrr_after) for e in events)
        # the rows as the previous version stored them: typed per contract
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE rbm_mrr_event SET event_type = contract_event_type,"
            " customer_mrr_before = NULL, customer_mrr_after = NULL WHERE id IN %s",
            [tuple(events.ids)],
        )
        self.env.invalidate_all()
        self.assertEqual(self.r2.mrr_event_ids.event_type, "new")
        post = _load_migration("post-migration")
        post.migrate(self.env.cr, "18.0.1.0.0")
        self.env.invalidate_all()
        self.assertEqual(
            sorted((e.id, e.event_type, e.customer_mrr_after) for e in events), expected
        )
        self.assertEqual(Event._reclassify_customer_events(), 0)
        post.migrate(self.env.cr, "18.0.1.0.0")
        self.env.invalidate_all()
        self.assertEqual(
            sorted((e.id, e.event_type, e.customer_mrr_after) for e in events), expected
        )

    def test_customer_value_on_the_form(self):
        """T: 100 a month billed in advance from January to August, January to
        June paid; on 15/08/2026."""
        with freeze_time("2026-08-15"):
            invoices = self.t.env["rbm.billing.run"]._bill(self.t, d("2026-08-15"))["moves"]
            self.assertEqual(len(invoices), 8)
            paid = invoices.sorted("invoice_date")[:6]
            self.env["account.payment.register"].with_context(
                active_model="account.move", active_ids=paid.ids
            ).create({"group_payment": False})._create_payments()
            for partner, mrr in ((self.cust["T"], 100.0), (self.cust["S"], 400.0)):
                partner.invalidate_recordset()
                form = Form(partner)
                self.assertEqual(form.rbm_current_mrr, mrr)
                # average monthly gross MRR churn over 08/2025-07/2026: only the months
                # with an opening MRR count, Feb-Jul: (1/3 + 1/5) / 6 = 4/45; LTV = MRR / (4/45)
                self.assertAlmostEqual(form.rbm_ltv, mrr * 45 / 4, places=2)
            form = Form(self.cust["T"])
            self.assertEqual(form.rbm_invoiced_revenue, 800.0)  # 8 x 100
            self.assertEqual(form.rbm_lifetime_revenue, 600.0)  # 6 x 100 paid
            chart = html.fromstring(self.cust["S"].rbm_mrr_history)
            bars = chart.xpath("//div[hasclass('o_rbm_mrr_history_col')]/@title")
            # S: 300 from January to April, 400 from May; August up to today
            self.assertEqual(
                bars,
                [f"{m:02d}/2026: $\xa0300.00" for m in range(1, 5)]
                + [f"{m:02d}/2026: $\xa0400.00" for m in range(5, 9)],
            )
            action = self.cust["S"].action_view_rbm_mrr_events()
            self.assertEqual(
                self.env["rbm.mrr.event"].search(action["domain"]),
                (self.s1 | self.s2 | self.s3).mrr_event_ids,
            )


@tagged("post_install", "-at_install")
class TestCommitmentPortal(HttpCase):
    """The portal states the commitment and the fee in force (today is the
    real day here: the dates are set relative to it)."""

    def test_portal_states_the_fee_or_no_fee(self):
        today = date.today()
        company = self.env["res.partner"].create(
            {"name": "Cliente Fidelidade Ltda", "is_company": True, "email": "f@example.com"}
        )
        user = (
            self.env["res.users"]
            .with_context(no_reset_password=True)
            .create(
                {
                    "name": "Cliente Fidelidade",
                    "login": "rbm_terms_portal",
                    "password": "rbm_terms_portal",
                    "partner_id": company.id,
                    "groups_id": [Command.set([self.env.ref("base.group_portal").id])],
                }
            )
        )
        self.assertTrue(user)
        product = self.env["product.product"].create(
            {"name": "Serviço Fidelidade", "type": "service", "taxes_id": [Command.clear()]}
        )

        def contract(months, start):
            plan = self.env["rbm.plan"].create(
                {
                    "name": f"Plano {months}",
                    "commitment_months": months,
                    "early_termination_fee_type": "fixed",
                    "early_termination_fee": 300.0,
                    "line_ids": [Command.create({"product_id": product.id, "price_unit": 100})],
                }
            )
            record = self.env["rbm.contract"].create(
                {"partner_id": company.id, "plan_id": plan.id, "date_start": start}
            )
            record.action_activate()
            return record

        first = today.replace(day=1)
        inside = contract(12, first)
        ended = contract(1, first.replace(year=first.year - 1))
        self.authenticate("rbm_terms_portal", "rbm_terms_portal")
        page = html.fromstring(self.url_open(f"/my/subscriptions/{inside.id}").text)
        info = page.xpath("//div[hasclass('o_rbm_commitment_info')]")[0].text_content()
        self.assertIn("early-termination fee today $ 300.00", " ".join(info.split()))
        page = html.fromstring(self.url_open(f"/my/subscriptions/{ended.id}").text)
        info = " ".join(
            page.xpath("//div[hasclass('o_rbm_commitment_info')]")[0].text_content().split()
        )
        self.assertIn("cancellation without fee", info)
        page = html.fromstring(self.url_open(f"/my/subscriptions/{ended.id}/cancel").text)
        no_fee = page.xpath("//p[hasclass('o_rbm_no_fee')]")[0].text_content()
        self.assertIn("no early-termination fee", no_fee)
