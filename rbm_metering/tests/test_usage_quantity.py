import importlib.util
import json
from datetime import datetime, timedelta

import psycopg2.errors

from odoo import Command
from odoo.exceptions import ValidationError
from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger
from odoo.tools.misc import file_path
from odoo.tools.sql import add_constraint, drop_constraint

CONSTRAINT = "rbm_usage_quantity_range"


def _load_pre_migration():
    path = file_path("rbm_metering/migrations/18.0.0.4.0/pre-migrate.py")
    spec = importlib.util.spec_from_file_location("rbm_metering_pre_migrate_0_4_0", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _refuse_constant(name):
    raise ValueError(f"{name} is not JSON")


def _strict_json(text):
    """``text`` parsed as a browser parses JSON (no NaN, no Infinity)."""
    return json.loads(text, parse_constant=_refuse_constant)


@tagged("post_install", "-at_install")
class TestUsageQuantity(HttpCase):
    """No stored quantity can break the usage list, a statement or billing."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.metric = cls.env["rbm.metric"].create(
            {"code": "storage_gb", "name": "Storage", "unit_label": "GB"}
        )
        usage_product = cls.env["product.product"].create(
            {"name": "Storage", "type": "service", "taxes_id": [Command.clear()]}
        )
        plan = cls.env["rbm.plan"].create(
            {
                "name": "Metered",
                "billing_mode": "arrears",
                "line_ids": [
                    Command.create({"product_id": usage_product.id, "metric_id": cls.metric.id})
                ],
            }
        )
        partner = cls.env["res.partner"].create({"name": "Cliente Quantidade"})
        cls.contract = cls.env["rbm.contract"].create(
            {
                "partner_id": partner.id,
                "plan_id": plan.id,
                "date_start": datetime.now().date() - timedelta(days=10),
            }
        )
        cls.contract.action_activate()
        stamp = (datetime.now() - timedelta(hours=1)).isoformat()
        events = [
            {
                "idempotency_key": key,
                "metric": "storage_gb",
                "contract_id": cls.contract.id,
                "quantity": 2.5,
                "timestamp": stamp,
            }
            for key in ("q-nan", "q-inf", "q-neg", "q-ok")
        ]
        results = cls.env["rbm.usage"]._ingest(cls.env.company, events)
        assert [r["status"] for r in results] == ["accepted"] * 4, results
        cls.usage = cls.env["rbm.usage"].search([("contract_id", "=", cls.contract.id)])
        cls.by_key = {u.idempotency_key: u for u in cls.usage}

    def _web_client_answers(self):
        """The raw answers of the requests the usage list and its grouped and
        pivot views send (web_search_read, web_read_group)."""
        domain = [("contract_id", "=", self.contract.id)]
        calls = [
            (
                "web_search_read",
                {
                    "domain": domain,
                    "specification": {
                        "quantity": {},
                        "idempotency_key": {},
                        "state": {},
                        "reason": {},
                    },
                    "limit": 80,
                },
            ),
            (
                "web_read_group",
                {"domain": domain, "fields": ["quantity:sum"], "groupby": ["metric_id"]},
            ),
        ]
        answers = []
        for method, kwargs in calls:
            body = {
                "id": 1,
                "jsonrpc": "2.0",
                "method": "call",
                "params": {"model": "rbm.usage", "method": method, "args": [], "kwargs": kwargs},
            }
            response = self.url_open(
                f"/web/dataset/call_kw/rbm.usage/{method}",
                data=json.dumps(body),
                headers={"Content-Type": "application/json"},
            )
            answers.append(response.text)
        return answers

    def _readable(self, text):
        try:
            return "result" in _strict_json(text)
        except ValueError:
            return False

    def test_the_check_is_in_the_database(self):
        self.env.cr.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = %s",
            [CONSTRAINT],
        )
        [(definition,)] = self.env.cr.fetchall()
        self.assertIn("quantity >= ", definition)
        self.assertIn("quantity <= ", definition)
        self.assertIn("1000000000000", definition)
        event = self.by_key["q-ok"]
        for bad in ("NaN", "Infinity", "-Infinity", "-0.000001", "1000000000000.000001"):
            with (
                self.subTest(quantity=bad),
                mute_logger("odoo.sql_db"),
                self.assertRaises(psycopg2.errors.CheckViolation),
                self.env.cr.savepoint(),
            ):
                self.env.cr.execute(
                    "UPDATE rbm_usage SET quantity = %s::numeric WHERE id = %s", [bad, event.id]
                )
        self.env.cr.execute(
            "UPDATE rbm_usage SET quantity = 1000000000000 WHERE id = %s", [event.id]
        )
        event.invalidate_recordset(["quantity"])
        self.assertEqual(event.quantity, 1e12)

    def test_list_blank_with_a_stored_nan_until_the_upgrade_rejects_it(self):
        cr = self.env.cr
        # a database of the previous version: no check, and quantities it let through
        drop_constraint(cr, "rbm_usage", CONSTRAINT)
        for key, value in (("q-nan", "NaN"), ("q-inf", "Infinity"), ("q-neg", "-5")):
            cr.execute(
                "UPDATE rbm_usage SET quantity = %s::numeric WHERE id = %s",
                [value, self.by_key[key].id],
            )
        self.env.invalidate_all()
        self.authenticate("admin", "admin")
        # the bug as seen on screen: the answers are not JSON a browser reads
        for answer in self._web_client_answers():
            self.assertFalse(self._readable(answer), answer[:300])

        # the upgrade to this version
        self.assertEqual(_load_pre_migration().reject_invalid_quantities(cr), 3)
        self.env.invalidate_all()
        search, group = (_strict_json(a)["result"] for a in self._web_client_answers())
        quantities = {r["idempotency_key"]: r["quantity"] for r in search["records"]}
        self.assertEqual(quantities, {"q-nan": 0.0, "q-inf": 0.0, "q-neg": 0.0, "q-ok": 2.5})
        self.assertEqual([g["quantity"] for g in group["groups"]], [2.5])
        for key, original in (("q-nan", "NaN"), ("q-inf", "Infinity"), ("q-neg", "-5")):
            event = self.by_key[key]
            self.assertEqual(event.state, "rejected")
            self.assertIn(f"quantity {original}", event.reason)
            self.assertIn("state was accepted", event.reason)
        self.assertEqual(self.by_key["q-ok"].state, "accepted")

        # the check, as the module defines it, can be added again and holds
        definition = dict((name, d) for name, d, _m in self.env["rbm.usage"]._sql_constraints)
        add_constraint(cr, "rbm_usage", CONSTRAINT, definition["quantity_range"])
        with (
            mute_logger("odoo.sql_db"),
            self.assertRaises(psycopg2.errors.CheckViolation),
            cr.savepoint(),
        ):
            cr.execute(
                "UPDATE rbm_usage SET quantity = 'NaN' WHERE id = %s", [self.by_key["q-ok"].id]
            )

    def test_the_orm_refuses_a_bad_quantity_naming_the_event(self):
        event = self.by_key["q-ok"]
        for bad in (float("nan"), float("inf"), -1, 1e12 + 1, True, "lots"):
            with self.subTest(quantity=bad), self.assertRaisesRegex(ValidationError, "q-ok"):
                event.write({"quantity": bad})
        with self.assertRaisesRegex(ValidationError, "manual-nan.*quantity nan"):
            self.env["rbm.usage"].create(
                {
                    "idempotency_key": "manual-nan",
                    "contract_id": self.contract.id,
                    "metric_id": self.metric.id,
                    "quantity": float("nan"),
                }
            )
        # the ORM stores 6 decimal places through a float: 1e12 would be stored
        # as 1000000000000.000854, beyond the bound, so it is refused too
        with self.assertRaisesRegex(ValidationError, "q-ok"):
            event.write({"quantity": 1e12})
        event.write({"quantity": 999999999999.5})
        event.flush_recordset()
        self.env.cr.execute("SELECT quantity FROM rbm_usage WHERE id = %s", [event.id])
        self.assertLessEqual(self.env.cr.fetchone()[0], 1e12)
