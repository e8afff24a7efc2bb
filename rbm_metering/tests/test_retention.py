import csv
import hashlib
import io
import json
import threading
import time as time_module
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import psycopg2
from psycopg2 import IntegrityError

from odoo import SUPERUSER_ID, Command, api
from odoo.api import Transaction
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import Form, HttpCase, TransactionCase, tagged
from odoo.tests.common import JsonRpcException
from odoo.tools import mute_logger

from odoo.addons.rbm_recurring.tests.common import d

from .common import RbmMeteringCase, event


@tagged("post_install", "-at_install")
class TestUsageRetention(RbmMeteringCase):
    """Usage retention: the invoiced events past the company's policy are
    summed into daily totals and deleted; statements show the same figures
    before and after; nothing unbilled is touched; a crash repeats nothing."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # 100 GB included, 0.50 per GB above
        cls.plan = cls._make_usage_plan(
            cls.storage, price_model="allowance", allowance=100.0, overage_price=0.5
        )
        cls.contract = cls._make_contract(cls.plan, d("2027-01-01"))
        cls.company = cls.contract.company_id
        cls.Daily = cls.env["rbm.usage.daily"]
        # the events the database already holds (demo data) out of the way
        cls.Daily._rollup_usage(cls.company, date(2100, 1, 1), 10**9)

    def _ingest_january(self):
        results = self._ingest(
            self.contract,
            [
                event("jan-1", 40, "2027-01-05T10:00:00Z"),
                event("jan-2", "50.5", "2027-01-10T10:00:00Z"),
                event("jan-3", 20, "2027-01-10T18:00:00Z"),
                event("jan-4", 10, "2027-01-20T10:00:00Z"),
            ],
            "2027-01-31 23:00:00",
        )
        self.assertEqual({r["status"] for r in results}, {"accepted"}, results)

    def _bill_january(self):
        self._ingest_january()
        move = self._bill(self.contract, d("2027-02-01"))["moves"]
        self.assertEqual(move.state, "posted")
        # February, not invoiced yet
        self._ingest(
            self.contract, [event("feb-1", 7, "2027-02-03T10:00:00Z")], "2027-02-04 10:00:00"
        )
        return move

    def _purge(self, at, batch_size=10000, company=None):
        company = company or self.company
        with self._frozen(at):
            cutoff = self.Daily._get_retention_cutoff(company)
            total = 0
            while cutoff:
                count = self.Daily._rollup_usage(company, cutoff, batch_size)
                total += count
                if count < batch_size:
                    break
            return total

    def _events(self, contract=None):
        return self.env["rbm.usage"].search([("contract_id", "=", (contract or self.contract).id)])

    def _totals(self, contract=None):
        return {
            (r.day.isoformat(), r.invoice_line_id.id): (
                r.quantity,
                r.quantity_max,
                r.quantity_last,
                r.event_count,
            )
            for r in self.Daily.search([("contract_id", "=", (contract or self.contract).id)])
        }

    def _statement(self, day="2027-01-01", at="2027-03-20 10:00:00"):
        with self._frozen(at):
            return self.contract._get_usage_statement(day)

    def test_statement_and_csv_are_the_same_after_the_purge(self):
        move = self._bill_january()
        line = self._usage_line(move)
        self.company.rbm_usage_retention_months = 1
        before = self._statement()
        before_csv = self.contract._get_statement_csv(before)
        # invoice of 01/02/2027 + 1 month = 01/03/2027: kept on 28/02, deleted on 01/03
        self.assertEqual(self._purge("2027-02-28 12:00:00"), 0)
        self.assertEqual(self._purge("2027-03-01 12:00:00"), 4)
        self.assertEqual(self._events().mapped("idempotency_key"), ["feb-1"])
        self.assertEqual(
            self._totals(),
            {
                ("2027-01-05", line.id): (40.0, 40.0, 40.0, 1),
                ("2027-01-10", line.id): (70.5, 50.5, 20.0, 2),
                ("2027-01-20", line.id): (10.0, 10.0, 10.0, 1),
            },
        )
        after = self._statement()
        (item,) = after["metrics"]
        # by hand: 40 + 50.5 + 20 + 10 = 120.5 GB; 20.5 GB above 100 at 0.50 = 10.25
        self.assertEqual(item["quantity"], Decimal("120.5"))
        self.assertEqual(item["count"], 4)
        self.assertEqual(item["billable"], Decimal("20.5"))
        self.assertEqual(item["amount"], Decimal("10.25"))
        daily = dict(item["daily"])
        self.assertEqual(daily[d("2027-01-05")], Decimal(40))
        self.assertEqual(daily[d("2027-01-10")], Decimal("70.5"))
        self.assertEqual(daily[d("2027-01-20")], Decimal(10))
        self.assertEqual(sum(daily.values()), Decimal("120.5"))
        self.assertEqual(after["invoice"], move)
        self.assertFalse(after["is_open"])
        self.assertEqual(after["total"], before["total"])
        self.assertEqual(item["daily"], before["metrics"][0]["daily"])
        self.assertEqual(self.contract._get_statement_csv(after), before_csv)
        # February (kept, not invoiced) is untouched
        february = self._statement(day="2027-02-10")
        self.assertEqual(february["metrics"][0]["quantity"], Decimal(7))

    def test_prices_by_property_value_after_the_purge(self):
        calls = self._make_metric("calls", "API calls", "calls")
        plan = self._make_usage_plan(
            calls,
            price_model="per_unit",
            price_unit=0.01,
            price_property="region",
            price_filter_ids=[
                Command.create({"value": "sa", "price_model": "per_unit", "price_unit": 0.005})
            ],
        )
        contract = self._make_contract(plan, d("2027-01-01"))
        self._ingest(
            contract,
            [
                event(
                    "c-1", 6000, "2027-01-05T10:00:00Z", metric="calls", properties={"region": "sa"}
                ),
                event(
                    "c-2", 4000, "2027-01-10T10:00:00Z", metric="calls", properties={"region": "sa"}
                ),
                event(
                    "c-3", 3000, "2027-01-10T11:00:00Z", metric="calls", properties={"region": "eu"}
                ),
                event("c-4", 500, "2027-01-20T10:00:00Z", metric="calls"),
            ],
            "2027-01-31 23:00:00",
        )
        move = self._bill(contract, d("2027-02-01"))["moves"]
        self.assertEqual(move.state, "posted")

        def figures():
            with self._frozen("2027-03-20 10:00:00"):
                statement = contract._get_usage_statement("2027-01-01")
            return {
                item["name"]: (item["quantity"], item["count"], item["amount"], item["daily"])
                for item in statement["metrics"]
            }, statement["total"]

        before, total_before = figures()
        self.company.rbm_usage_retention_months = 1
        self.assertEqual(self._purge("2027-03-01 12:00:00"), 4)
        self.assertFalse(self._events(contract))
        after, total_after = figures()
        self.assertEqual(after, before)
        # by hand: sa 10,000 x 0.005 = 50.00; the others 3,500 x 0.01 = 35.00
        self.assertEqual(
            {name: (q, n, a) for name, (q, n, a, _daily) in after.items()},
            {
                "API calls (region: sa)": (Decimal(10000), 2, Decimal("50.00")),
                "API calls (region: other values)": (Decimal(3500), 2, Decimal("35.00")),
            },
        )
        self.assertEqual(total_after, Decimal("85.00"))
        self.assertEqual(total_before, total_after)

    def test_rolling_up_twice_never_doubles(self):
        move = self._bill_january()
        line = self._usage_line(move)
        self.company.rbm_usage_retention_months = 1
        # one event per batch: the day of two events is added to in two batches
        self.assertEqual(self._purge("2027-03-01 12:00:00", batch_size=1), 4)
        first = self._totals()
        self.assertEqual(first[("2027-01-10", line.id)], (70.5, 50.5, 20.0, 2))
        self.assertEqual(self._purge("2027-03-01 12:00:00"), 0)
        self.assertEqual(self._purge("2027-04-01 12:00:00"), 0)
        self.assertEqual(self._totals(), first)
        self.assertEqual(self._statement()["metrics"][0]["quantity"], Decimal("120.5"))

    def test_unbilled_events_are_never_purged(self):
        self.company.rbm_usage_retention_months = 1
        # a draft invoice: its events are rated, not invoiced
        self.plan.posting_policy = "draft"
        self._ingest_january()
        move = self._bill(self.contract, d("2027-02-01"))["moves"]
        self.assertEqual(move.state, "draft")
        self._ingest(
            self.contract, [event("feb-1", 7, "2027-02-03T10:00:00Z")], "2027-02-04 10:00:00"
        )
        self.assertEqual(self._purge("2030-01-01 12:00:00"), 0)
        self.assertEqual(
            sorted(self._events().mapped("state")),
            ["accepted", "rated", "rated", "rated", "rated"],
        )
        self.assertFalse(self._totals())
        # posted: invoiced, then past the policy
        move.action_post()
        self.assertEqual(self._purge("2030-01-01 12:00:00"), 4)
        self.assertEqual(self._events().mapped("state"), ["accepted"])

    def test_no_policy_keeps_everything(self):
        self._bill_january()
        self.assertEqual(self.company.rbm_usage_retention_months, 0)
        with self._frozen("2035-01-01 12:00:00"):
            self.assertEqual(self.Daily._cron_purge_usage(), 0)
        self.assertEqual(len(self._events()), 5)

    def test_metrics_a_daily_total_cannot_rebuild_are_kept(self):
        peak = self._make_metric(
            "users", "Users", "users", aggregation="count_unique", unique_property="user"
        )
        plan = self._make_usage_plan(peak, price_model="per_unit", price_unit=2.0)
        contract = self._make_contract(plan, d("2027-01-01"))
        self._ingest(
            contract,
            [
                event("u-1", 1, "2027-01-05T10:00:00Z", metric="users", properties={"user": "a"}),
                event("u-2", 1, "2027-01-06T10:00:00Z", metric="users", properties={"user": "a"}),
            ],
            "2027-01-31 23:00:00",
        )
        move = self._bill(contract, d("2027-02-01"))["moves"]
        self.assertEqual(move.state, "posted")
        self.company.rbm_usage_retention_months = 1
        self.assertEqual(self._purge("2028-01-01 12:00:00"), 0)
        self.assertEqual(set(self._events(contract).mapped("state")), {"invoiced"})

    def test_a_crash_in_the_batch_repeats_nothing(self):
        self._bill_january()
        self.company.rbm_usage_retention_months = 1
        # killed after the statement, before the commit: all of it is undone
        with self.assertRaises(RuntimeError), self.env.cr.savepoint():
            self.assertEqual(self._purge("2027-03-01 12:00:00"), 4)
            raise RuntimeError("killed")
        self.env.invalidate_all()
        self.assertEqual(len(self._events()), 5)
        self.assertFalse(self._totals())
        self.env.cr.execute(
            "SELECT COUNT(*) FROM rbm_usage_key_archive WHERE key_hash = ANY(%s::uuid[])",
            [[hashlib.md5(f"jan-{i}".encode()).hexdigest() for i in range(1, 5)]],
        )
        self.assertEqual(self.env.cr.fetchone()[0], 0)
        # the next run counts each event once
        self.assertEqual(self._purge("2027-03-01 12:00:00"), 4)
        self.assertEqual(
            sum(quantity for quantity, *_rest in self._totals().values()),
            120.5,
        )
        self.assertEqual(sum(row[3] for row in self._totals().values()), 4)

    def test_a_purged_key_sent_again_is_a_duplicate(self):
        self._bill_january()
        self.company.rbm_usage_retention_months = 1
        self._purge("2027-03-01 12:00:00")
        # the same event again (late: it would go to the next open period)
        results = self._ingest(
            self.contract,
            [
                event("jan-2", "50.5", "2027-01-10T10:00:00Z"),
                event("mar-1", 3, "2027-03-01T12:00:00Z"),
            ],
            "2027-03-01 12:00:00",
        )
        self.assertEqual(
            [(r["idempotency_key"], r["status"]) for r in results],
            [("jan-2", "duplicate"), ("mar-1", "accepted")],
        )
        self.assertFalse(self._events().filtered(lambda e: e.idempotency_key == "jan-2"))
        # by hand too
        with self.assertRaisesRegex(ValidationError, "jan-2"):
            self.env["rbm.usage"].create(
                {
                    "idempotency_key": "jan-2",
                    "contract_id": self.contract.id,
                    "metric_id": self.storage.id,
                    "quantity": 1,
                }
            )

    def test_an_invoice_whose_usage_was_purged_cannot_go_back_to_draft(self):
        move = self._bill_january()
        self.company.rbm_usage_retention_months = 1
        self._purge("2027-03-01 12:00:00")
        with self.assertRaisesRegex(UserError, move.name):
            move.button_draft()
        # cancelling a posted invoice resets it to draft first
        with self.assertRaisesRegex(UserError, move.name):
            move.button_cancel()
        self.assertEqual(move.state, "posted")

    def test_the_cron_purges_each_company_by_its_own_policy(self):
        self._bill_january()
        company_b = self.env["res.company"].create(
            {"name": "Empresa B", "currency_id": self.company.currency_id.id}
        )
        env_b = self.env(context=dict(self.env.context, allowed_company_ids=[company_b.id]))
        metric_b = env_b["rbm.metric"].create(
            {
                "code": "storage_gb",
                "name": "Storage B",
                "unit_label": "GB",
                "company_id": company_b.id,
            }
        )
        product_b = env_b["product.product"].create(
            {"name": "Storage B", "type": "service", "taxes_id": [Command.clear()]}
        )
        plan_b = env_b["rbm.plan"].create(
            {
                "name": "Plan B",
                "billing_mode": "arrears",
                "company_id": company_b.id,
                "line_ids": [
                    Command.create({"product_id": product_b.id, "price_unit": 10.0}),
                    Command.create({"product_id": product_b.id, "metric_id": metric_b.id}),
                ],
            }
        )
        partner_b = env_b["res.partner"].create({"name": "Cliente B", "company_id": company_b.id})
        contract_b = env_b["rbm.contract"].create(
            {
                "partner_id": partner_b.id,
                "plan_id": plan_b.id,
                "date_start": d("2027-01-01"),
                "company_id": company_b.id,
            }
        )
        contract_b.action_activate()
        self._ingest(contract_b, [event("jan-1", 5, "2027-01-05T10:00:00Z")], "2027-01-31 23:00:00")
        self.company.rbm_usage_retention_months = 1
        with self._frozen("2027-06-01 12:00:00"):
            self.assertEqual(self.Daily._cron_purge_usage(batch_size=3), 3)
            self.assertEqual(self.Daily._cron_purge_usage(batch_size=3), 1)
            self.assertEqual(self.Daily._cron_purge_usage(batch_size=3), 0)
            # B with a policy too: its events are not invoiced, nothing to purge
            company_b.rbm_usage_retention_months = 1
            self.assertEqual(self.Daily._cron_purge_usage(batch_size=3), 0)
        (kept,) = self._events(contract_b)
        self.assertEqual((kept.idempotency_key, kept.state), ("jan-1", "accepted"))
        self.assertFalse(self.Daily.search([("company_id", "=", company_b.id)]))
        # the key "jan-1" purged in A is not archived for B
        self.env.cr.execute(
            "SELECT company_id FROM rbm_usage_key_archive WHERE key_hash = md5('jan-1')::uuid"
        )
        self.assertEqual(self.env.cr.fetchall(), [(self.company.id,)])
        # a user of company B only does not see A's daily totals
        user_b = self.env["res.users"].create(
            {
                "name": "Usuário B",
                "login": "rbm_retention_b",
                "company_id": company_b.id,
                "company_ids": [Command.set([company_b.id])],
                "groups_id": [
                    Command.set([self.env.ref("rbm_recurring.rbm_recurring_group_user").id])
                ],
            }
        )
        daily_b = self.Daily.with_user(user_b).with_company(company_b)
        self.assertFalse(daily_b.search([]))
        totals_a = self.Daily.search([("contract_id", "=", self.contract.id)])
        self.assertEqual(len(totals_a), 3)
        with self.assertRaises(AccessError):
            totals_a.with_user(user_b).with_company(company_b).read(["quantity"])

    def test_users_cannot_write_daily_totals(self):
        self._bill_january()
        self.company.rbm_usage_retention_months = 1
        self._purge("2027-03-01 12:00:00")
        manager = self.env["res.users"].create(
            {
                "name": "Gerente",
                "login": "rbm_retention_manager",
                "groups_id": [
                    Command.set([self.env.ref("rbm_recurring.rbm_recurring_group_manager").id])
                ],
            }
        )
        totals = self.Daily.with_user(manager).search([("contract_id", "=", self.contract.id)])
        self.assertEqual(len(totals), 3)
        with self.assertRaises(AccessError):
            totals[0].write({"quantity": 1})
        with self.assertRaises(AccessError):
            totals.unlink()

    def test_settings_form(self):
        with Form(self.env["res.config.settings"]) as settings:
            settings.rbm_usage_retention_months = 6
        settings.save().execute()
        self.assertEqual(self.env.company.rbm_usage_retention_months, 6)
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError), self.env.cr.savepoint():
            self.env.company.rbm_usage_retention_months = -1
            self.env.company.flush_recordset()


@tagged("post_install", "-at_install")
class TestUsageRetentionHttp(HttpCase):
    """Through real HTTP requests: the portal CSV of a purged period, the
    usage API answering ``duplicate`` for a purged key, and a portal user
    calling RPC on the daily totals."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        today = date.today()
        # three months ago: invoiced two months ago, past a 1-month policy
        cls.period_start = (today.replace(day=1) - timedelta(days=70)).replace(day=1)
        cls.next_start = (cls.period_start + timedelta(days=32)).replace(day=1)
        metric = cls.env["rbm.metric"].create(
            {"code": "ret_storage_gb", "name": "Retention Storage", "unit_label": "GB"}
        )
        product = cls.env["product.product"].create(
            {"name": "Retention cloud", "type": "service", "taxes_id": [Command.clear()]}
        )
        plan = cls.env["rbm.plan"].create(
            {
                "name": "Retention metered plan",
                "billing_mode": "arrears",
                "alignment": "fixed_day",
                "billing_day": 1,
                "line_ids": [
                    Command.create({"product_id": product.id, "quantity": 1, "price_unit": 50}),
                    Command.create(
                        {
                            "product_id": product.id,
                            "name": "Retention Storage",
                            "metric_id": metric.id,
                            "price_model": "allowance",
                            "allowance": 100.0,
                            "overage_price": 0.5,
                        }
                    ),
                ],
            }
        )
        portal = cls.env.ref("base.group_portal")
        cls.contracts = {}
        for key in ("a", "b"):
            partner = cls.env["res.partner"].create(
                {"name": f"Retention Customer {key.upper()}", "email": f"ret_{key}@example.com"}
            )
            cls.env["res.users"].with_context(no_reset_password=True).create(
                {
                    "name": partner.name,
                    "login": f"rbm_ret_{key}",
                    "password": f"rbm_ret_{key}",
                    "partner_id": partner.id,
                    "groups_id": [Command.set([portal.id])],
                }
            )
            contract = cls.env["rbm.contract"].create(
                {"partner_id": partner.id, "plan_id": plan.id, "date_start": cls.period_start}
            )
            contract.action_activate()
            cls.contracts[key] = contract
        cls.contract_a = cls.contracts["a"]
        cls.at = datetime.combine(cls.period_start + timedelta(days=2), time(12))
        cls.events = [
            {
                "idempotency_key": f"ret-{i}",
                "metric": "ret_storage_gb",
                "contract_id": cls.contract_a.id,
                "quantity": quantity,
                "timestamp": (cls.at + timedelta(days=i * 7)).isoformat(),
            }
            for i, quantity in enumerate([60, "70.5", 9])
        ]
        _record, cls.key = cls.env["rbm.api.key"]._generate("Platform", cls.env.company)
        # the events the database already holds (demo data) out of the way
        cls.env["rbm.usage.daily"]._rollup_usage(cls.env.company, date(2100, 1, 1), 10**9)

    def _post_usage(self, events):
        response = self.url_open(
            "/rbm/api/v1/usage",
            data=json.dumps({"events": events}),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.key}"},
            timeout=60,
        )
        self.assertEqual(response.status_code, 200, response.text)
        return response.json()

    def _csv(self):
        response = self.url_open(
            f"/my/subscriptions/{self.contract_a.id}/usage.csv?period={self.period_start}"
        )
        self.assertEqual(response.status_code, 200)
        return response.content.decode("utf-8-sig")

    def _purge(self):
        Daily = self.env["rbm.usage.daily"]
        self.env.company.rbm_usage_retention_months = 1
        return Daily._rollup_usage(self.env.company, Daily._get_retention_cutoff(self.env.company))

    def test_portal_csv_and_api_after_the_purge(self):
        answer = self._post_usage(self.events)
        self.assertEqual({r["status"] for r in answer["results"]}, {"accepted"}, answer)
        move = self.env["rbm.billing.run"]._bill(self.contract_a, self.next_start)["moves"]
        self.assertEqual(move.state, "posted")
        self.authenticate("rbm_ret_a", "rbm_ret_a")
        before = self._csv()
        self.assertEqual(self._purge(), 3)
        self.assertFalse(self.env["rbm.usage"].search([("contract_id", "=", self.contract_a.id)]))
        after = self._csv()
        self.assertEqual(after, before)
        rows = list(csv.DictReader(io.StringIO(after)))
        (total,) = [r for r in rows if r["date"] == "total"]
        # by hand: 60 + 70.5 + 9 = 139.5 GB; 39.5 above 100 at 0.50 = 19.75
        self.assertEqual(total["quantity"], "139.5")
        self.assertEqual(total["amount"], "19.75")
        days = {r["date"]: r["quantity"] for r in rows if r["quantity"] != "0"}
        self.assertEqual(days[(self.period_start + timedelta(days=9)).isoformat()], "70.5")
        # the events sent again: duplicates, nothing stored
        answer = self._post_usage(self.events[:2])
        self.assertEqual(
            [(r["idempotency_key"], r["status"]) for r in answer["results"]],
            [("ret-0", "duplicate"), ("ret-1", "duplicate")],
        )
        self.assertFalse(self.env["rbm.usage"].search([("contract_id", "=", self.contract_a.id)]))

    def test_tour_retention_setting_then_daily_totals(self):
        """Clicked as the administrator: the retention set in Settings, the nightly cron,
        then the daily totals of the deleted events in the Usage menu."""
        self._post_usage(self.events)
        move = self.env["rbm.billing.run"]._bill(self.contract_a, self.next_start)["moves"]
        self.assertEqual(move.state, "posted")
        self.start_tour(
            "/odoo/action-account.action_account_config",
            "rbm_usage_retention_settings_tour",
            login="admin",
        )
        self.assertEqual(self.env.company.rbm_usage_retention_months, 1)
        # the nightly cron, as the scheduler runs it: the three events of the period
        # invoiced more than a month ago become daily totals
        self.assertEqual(self.env["rbm.usage.daily"]._cron_purge_usage(), 3)
        self.assertFalse(self.env["rbm.usage"].search([("contract_id", "=", self.contract_a.id)]))
        self.start_tour(
            "/odoo/action-rbm_recurring.rbm_plan_action",
            "rbm_usage_daily_totals_tour",
            login="admin",
        )

    def test_portal_user_cannot_read_daily_totals_by_rpc(self):
        self._post_usage(self.events)
        self.env["rbm.billing.run"]._bill(self.contract_a, self.next_start)
        self._purge()
        self.assertEqual(
            self.env["rbm.usage.daily"].search_count([("contract_id", "=", self.contract_a.id)]),
            3,
        )
        for login in ("rbm_ret_b", "rbm_ret_a"):
            self.authenticate(login, login)
            with self.assertRaisesRegex(JsonRpcException, "AccessError"):
                self.make_jsonrpc_request(
                    "/web/dataset/call_kw/rbm.usage.daily/search_read",
                    {
                        "model": "rbm.usage.daily",
                        "method": "search_read",
                        "args": [[("contract_id", "=", self.contract_a.id)]],
                        "kwargs": {"fields": ["quantity"]},
                    },
                )


@tagged("post_install", "-at_install")
class TestPurgeRace(TransactionCase):
    """An event re-sent while the purge batch that deletes it runs, each in
    its own connection and transaction (committed data): the ingestion waits
    for the batch, replays on a new snapshot and answers ``duplicate``; the
    event is never stored twice."""

    def setUp(self):
        super().setUp()
        today = date.today()
        start = (today.replace(day=1) - timedelta(days=70)).replace(day=1)
        self.next_start = (start + timedelta(days=32)).replace(day=1)
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            metric = env["rbm.metric"].create(
                {"code": "purge_race_gb", "name": "Purge race", "unit_label": "GB"}
            )
            product = env["product.product"].create(
                {"name": "Purge race cloud", "type": "service", "taxes_id": [Command.clear()]}
            )
            plan = env["rbm.plan"].create(
                {
                    "name": "Purge race plan",
                    "billing_mode": "arrears",
                    "alignment": "fixed_day",
                    "billing_day": 1,
                    "line_ids": [
                        Command.create({"product_id": product.id, "price_unit": 10}),
                        Command.create(
                            {"product_id": product.id, "metric_id": metric.id, "price_unit": 1}
                        ),
                    ],
                }
            )
            partner = env["res.partner"].create({"name": "Purge race customer"})
            contract = env["rbm.contract"].create(
                {"partner_id": partner.id, "plan_id": plan.id, "date_start": start}
            )
            contract.action_activate()
            self.event = {
                "idempotency_key": "purge-race-1",
                "metric": "purge_race_gb",
                "contract_id": contract.id,
                "quantity": 3,
                "timestamp": datetime.combine(start + timedelta(days=3), time(12)).isoformat(),
            }
            company = contract.company_id
            results = env["rbm.usage"]._ingest(company, [self.event])
            assert results[0]["status"] == "accepted", results
            move = env["rbm.billing.run"]._bill(contract, self.next_start)["moves"]
            assert move.state == "posted", move.state
            self.retention = company.rbm_usage_retention_months
            company.rbm_usage_retention_months = 1
            self.company_id, self.contract_id = company.id, contract.id
            self.cleanup = (metric.id, product.id, plan.id, partner.id)
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        metric_id, product_id, plan_id, partner_id = self.cleanup
        with self.registry.cursor() as cr:
            cr.execute(
                "UPDATE res_company SET rbm_usage_retention_months = %s WHERE id = %s",
                [self.retention, self.company_id],
            )
            cr.execute("DELETE FROM rbm_usage_daily WHERE contract_id = %s", [self.contract_id])
            cr.execute("DELETE FROM rbm_usage WHERE contract_id = %s", [self.contract_id])
            cr.execute(
                "DELETE FROM rbm_usage_key_archive WHERE company_id = %s"
                " AND key_hash = md5('purge-race-1')::uuid",
                [self.company_id],
            )
            moves = "SELECT id FROM account_move WHERE rbm_contract_id = %s"
            cr.execute(
                f"DELETE FROM account_move_line WHERE move_id IN ({moves})",  # noqa: S608
                [self.contract_id],
            )
            cr.execute("DELETE FROM account_move WHERE rbm_contract_id = %s", [self.contract_id])
            cr.execute("DELETE FROM rbm_contract WHERE id = %s", [self.contract_id])
            cr.execute("DELETE FROM rbm_plan WHERE id = %s", [plan_id])
            cr.execute("DELETE FROM rbm_metric WHERE id = %s", [metric_id])
            cr.execute("DELETE FROM res_partner WHERE id = %s", [partner_id])
            cr.execute(
                "DELETE FROM product_template WHERE id IN "
                "(SELECT product_tmpl_id FROM product_product WHERE id = %s)",
                [product_id],
            )

    def test_an_event_sent_again_during_its_purge_is_a_duplicate(self):
        snapshot_taken, batch_done = threading.Event(), threading.Event()
        outcome, attempts = {}, []

        def purge():
            try:
                with self.registry.cursor() as cr:
                    cr.transaction = Transaction(self.registry)
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    company = env["res.company"].browse(self.company_id)
                    snapshot_taken.wait(timeout=20)
                    Daily = env["rbm.usage.daily"]
                    # this contract's events only (committed: the others stay)
                    outcome["purged"] = Daily._rollup_usage(
                        company, Daily._get_retention_cutoff(company), 10, [self.contract_id]
                    )
                    batch_done.set()
                    # the ingestion now waits for this commit
                    time_module.sleep(1)
            except Exception as error:  # noqa: BLE001 - reported by the assertions
                outcome["purged"] = error
                batch_done.set()

        def ingest():
            # like the HTTP layer (odoo.service.model.retrying): a request that
            # hits a serialization failure is rolled back and replayed
            for attempt in range(1, 6):
                attempts.append(attempt)
                try:
                    with self.registry.cursor() as cr:
                        cr.transaction = Transaction(self.registry)
                        env = api.Environment(cr, SUPERUSER_ID, {})
                        company = env["res.company"].browse(self.company_id)
                        Usage = env["rbm.usage"]
                        # the snapshot is taken before the purge batch
                        Usage._prepare_ingestion(company, [self.event])
                        if attempt == 1:
                            snapshot_taken.set()
                            batch_done.wait(timeout=20)
                        outcome["results"] = Usage._ingest(company, [self.event])
                    return
                except psycopg2.errors.SerializationFailure:
                    continue
                except Exception as error:  # noqa: BLE001 - reported by the assertions
                    outcome["results"] = error
                    return

        threads = [threading.Thread(target=purge), threading.Thread(target=ingest)]
        with mute_logger("odoo.sql_db"):
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
        self.assertFalse(any(thread.is_alive() for thread in threads), "a client hung")
        self.assertEqual(outcome["purged"], 1)
        self.assertIsInstance(outcome["results"], list, outcome["results"])
        self.assertEqual(outcome["results"][0]["status"], "duplicate")
        # the first attempt saw the batch commit after its snapshot: replayed once
        self.assertEqual(attempts, [1, 2])
        with self.registry.cursor() as cr:
            cr.execute("SELECT COUNT(*) FROM rbm_usage WHERE contract_id = %s", [self.contract_id])
            self.assertEqual(cr.fetchone()[0], 0)
            cr.execute(
                "SELECT SUM(event_count), SUM(quantity) FROM rbm_usage_daily"
                " WHERE contract_id = %s",
                [self.contract_id],
            )
            self.assertEqual(cr.fetchone(), (1, 3))
