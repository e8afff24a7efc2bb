"""Reports on the database replica: the aging, the Revenue Dashboard and the
usage statements read through read-only cursors, which Odoo opens on the
host of ``db_replica_host`` when one is configured.

The replica here is a read-only connection pool on this same database (what
Odoo's registry opens for ``db_replica_host``, pointed at the primary): the
figures read through it are the primary's, and a write through it fails."""

import json
from datetime import date

import psycopg2
from freezegun import freeze_time

from odoo import SUPERUSER_ID, Command, api, http, sql_db
from odoo.tests import HttpCase, TransactionCase, tagged
from odoo.tools import config, mute_logger

from odoo.addons.rbm_recurring.tests.common import commit_contracts
from odoo.addons.rbm_recurring.tools import replica_env

AGING_FIELDS = ["partner_id", "move_id", "date_maturity", "amount_residual"]


@tagged("post_install", "-at_install")
class TestReadReplica(TransactionCase):
    def setUp(self):
        super().setUp()
        self.ids, self.partner_ids = commit_contracts(self, 3, date(2026, 10, 1), "Replica")
        with self.registry.cursor() as cr, freeze_time("2026-10-01"):
            env = api.Environment(cr, SUPERUSER_ID, {})
            contracts = env["rbm.contract"].browse(self.ids)
            env["rbm.billing.run"]._bill(contracts, date(2026, 10, 1))
        # db_replica_host set to the primary's own host (empty: its socket)
        self.assertIs(config["db_replica_host"], False, "no replica configured by default")
        self.addCleanup(config.options.__setitem__, "db_replica_host", False)
        config.options["db_replica_host"] = config["db_host"] or ""
        if self.registry._db_readonly is None:
            self.addCleanup(setattr, self.registry, "_db_readonly", None)
            self.registry._db_readonly = sql_db.db_connect(self.env.cr.dbname, readonly=True)

    def test_replica_env_is_a_read_only_connection(self):
        with replica_env(self.env) as env:
            self.assertIsNot(env.cr, self.env.cr)
            self.assertTrue(env.cr.readonly)
            env.cr.execute("SELECT count(*) FROM rbm_contract WHERE id IN %s", [tuple(self.ids)])
            self.assertEqual(env.cr.fetchone()[0], 3, "it reads the committed data")
            with (
                self.assertRaises(psycopg2.errors.ReadOnlySqlTransaction),
                mute_logger("odoo.sql_db"),
            ):
                env.cr.execute(
                    "UPDATE res_partner SET name = name WHERE id = %s", [self.partner_ids[0]]
                )
        # without a replica: the caller's own environment
        config.options["db_replica_host"] = False
        with replica_env(self.env) as env:
            self.assertIs(env, self.env)

    def test_aging_on_the_replica_is_the_aging_of_the_primary(self):
        Aging = self.env["rbm.receivable.aging"]
        as_of = date(2026, 12, 1)
        on_replica = Aging._read_aging_rows(as_of, AGING_FIELDS)
        config.options["db_replica_host"] = False
        on_primary = Aging._read_aging_rows(as_of, AGING_FIELDS)
        self.assertEqual(on_replica, on_primary)
        # the three October invoices of 50.00, open
        ours = [row for row in on_replica if row["partner_id"] in self.partner_ids]
        self.assertEqual(
            sorted((row["partner_id"], row["amount_residual"]) for row in ours),
            sorted((partner_id, 50.0) for partner_id in self.partner_ids),
        )


@tagged("post_install", "-at_install")
class TestReadOnlyRoutes(HttpCase):
    """The dashboard's RPC, its XLSX and the portal statement's CSV run on a
    read-only cursor (in tests, Odoo makes that cursor's transaction READ
    ONLY): each answers without Odoo replaying it on a read/write cursor, with
    the primary's figures."""

    def test_dashboard_rpc_runs_on_a_read_only_cursor(self):
        method = type(self.env["rbm.kpi"]).get_dashboard_data
        self.assertTrue(getattr(method, "_readonly", False))
        self.authenticate("admin", "admin")
        primary = self.env["rbm.kpi"].get_dashboard_data(date_to="2026-11-30", months=6)
        with self.assertNoLogs("odoo.http", "WARNING"):
            answer = self.make_jsonrpc_request(
                "/web/dataset/call_kw/rbm.kpi/get_dashboard_data",
                {
                    "model": "rbm.kpi",
                    "method": "get_dashboard_data",
                    "args": [],
                    "kwargs": {"date_to": "2026-11-30", "months": 6},
                },
            )
        self.assertEqual(answer, json.loads(json.dumps(primary, default=str)))

    def test_dashboard_xlsx_runs_on_a_read_only_cursor(self):
        self.authenticate("admin", "admin")
        with self.assertNoLogs("odoo.http", "WARNING"):
            response = self.url_open(
                "/rbm_recurring/kpi/xlsx",
                data={
                    "params": json.dumps({"date_to": "2026-11-30"}),
                    "csrf_token": http.Request.csrf_token(self),
                },
            )
        self.assertEqual(response.status_code, 200, response.text[:500])
        self.assertTrue(response.content.startswith(b"PK"), "an XLSX workbook")

    def test_usage_statement_runs_on_a_read_only_cursor(self):
        metric = self.env["rbm.metric"].create(
            {"code": "replica_gb", "name": "Replica storage", "unit_label": "GB"}
        )
        product = self.env["product.product"].create(
            {"name": "Replica cloud", "type": "service", "taxes_id": [Command.clear()]}
        )
        plan = self.env["rbm.plan"].create(
            {
                "name": "Replica plan",
                "line_ids": [
                    Command.create({"product_id": product.id, "price_unit": 10}),
                    Command.create(
                        {"product_id": product.id, "metric_id": metric.id, "price_unit": 1}
                    ),
                ],
            }
        )
        admin = self.env.ref("base.user_admin")
        # the statement's days are the customer's (README), not the server's UTC date
        today = admin.partner_id._rbm_get_today()
        contract = self.env["rbm.contract"].create(
            {
                "partner_id": admin.partner_id.id,
                "plan_id": plan.id,
                "date_start": today.replace(day=1),
            }
        )
        contract.action_activate()
        self.env["rbm.usage"].create(
            {
                "contract_id": contract.id,
                "metric_id": metric.id,
                "quantity": 7,
                "idempotency_key": "replica-1",
            }
        )
        self.authenticate("admin", "admin")
        with self.assertNoLogs("odoo.http", "WARNING"):
            response = self.url_open(f"/my/subscriptions/{contract.id}/usage.csv")
        self.assertEqual(response.status_code, 200)
        # 7 GB used today, on the row of the customer's today
        today = today.isoformat()
        rows = [line.split(",") for line in response.text.splitlines()[1:]]
        self.assertIn(["replica_gb", "7"], [[row[4], row[7]] for row in rows if row[3] == today])
