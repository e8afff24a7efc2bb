import json
import threading
from datetime import date, datetime, timedelta

import psycopg2
import requests

from odoo import SUPERUSER_ID, Command, api
from odoo.api import Transaction
from odoo.modules.registry import DummyRLock, Registry
from odoo.tests import HOST, TransactionCase, tagged
from odoo.tools import config, mute_logger

from odoo.addons.rbm_recurring.tests.common import race_through_table_lock


@tagged("post_install", "-at_install")
class TestConcurrentIngestion(TransactionCase):
    """Two clients sending overlapping batches at the same moment, each with
    its own database connection and transaction (committed data): exactly
    one row per idempotency key, each key accepted by exactly one client.

    Odoo's transactions are REPEATABLE READ: when a key was inserted by the
    other transaction after this one's snapshot, PostgreSQL answers ON
    CONFLICT with a serialization failure, and the HTTP layer replays the
    request (``odoo.service.model.retrying``, what ``/rbm/api/v1/usage`` runs
    in); the replay then sees the other client's keys as duplicates. The
    clients here replay the same way."""

    def setUp(self):
        super().setUp()
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            metric = env["rbm.metric"].create(
                {"code": "race_gb", "name": "Race storage", "unit_label": "GB"}
            )
            product = env["product.product"].create(
                {"name": "Race cloud", "type": "service", "taxes_id": [Command.clear()]}
            )
            plan = env["rbm.plan"].create(
                {
                    "name": "Race plan",
                    "billing_mode": "arrears",
                    "line_ids": [
                        Command.create({"product_id": product.id, "price_unit": 10}),
                        Command.create(
                            {"product_id": product.id, "metric_id": metric.id, "price_unit": 1}
                        ),
                    ],
                }
            )
            partner = env["res.partner"].create({"name": "Race customer"})
            contract = env["rbm.contract"].create(
                {
                    "partner_id": partner.id,
                    "plan_id": plan.id,
                    "date_start": date.today() - timedelta(days=40),
                }
            )
            contract.action_activate()
            self.company_id = contract.company_id.id
            self.contract_id = contract.id
            self.cleanup = (metric.id, product.id, plan.id, partner.id)
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        metric_id, product_id, plan_id, partner_id = self.cleanup
        with self.registry.cursor() as cr:
            # the events first: each one records the key it was sent with
            cr.execute("DELETE FROM rbm_usage WHERE contract_id = %s", [self.contract_id])
            cr.execute("DELETE FROM rbm_api_key WHERE name = 'Race client'")
            cr.execute("DELETE FROM rbm_contract WHERE id = %s", [self.contract_id])
            cr.execute("DELETE FROM rbm_plan WHERE id = %s", [plan_id])
            cr.execute("DELETE FROM rbm_metric WHERE id = %s", [metric_id])
            cr.execute("DELETE FROM res_partner WHERE id = %s", [partner_id])
            cr.execute(
                "DELETE FROM product_template WHERE id IN "
                "(SELECT product_tmpl_id FROM product_product WHERE id = %s)",
                [product_id],
            )

    def _events(self, keys, prefix="race"):
        at = (datetime.now() - timedelta(hours=1)).isoformat()
        return [
            {
                "idempotency_key": f"{prefix}-{key:05d}",
                "metric": "race_gb",
                "contract_id": self.contract_id,
                "quantity": 1,
                "timestamp": at,
            }
            for key in keys
        ]

    def test_overlapping_batches_at_the_same_moment(self):
        # 0..1499 and 1499..500 (reversed) then 1500..1999: 1,000 keys in common
        batches = {
            "a": self._events(range(1500)),
            "b": self._events([*range(1499, 499, -1), *range(1500, 2000)]),
        }
        barrier = threading.Barrier(2)
        outcomes = {}
        attempts = {"a": 0, "b": 0}

        def client(name):
            # like the HTTP layer (odoo.service.model.retrying): a request that
            # hits a serialization failure is rolled back and replayed
            for attempt in range(1, 6):
                attempts[name] = attempt
                try:
                    with self.registry.cursor() as cr:
                        # the test runner holds the registry lock: hand the registry over
                        cr.transaction = Transaction(self.registry)
                        env = api.Environment(cr, SUPERUSER_ID, {})
                        company = env["res.company"].browse(self.company_id)
                        Usage = env["rbm.usage"]
                        Usage._prepare_ingestion(company, [])  # snapshot taken before the race
                        if attempt == 1:
                            barrier.wait(timeout=20)
                        outcomes[name] = Usage._ingest(company, batches[name])
                    return
                except psycopg2.errors.SerializationFailure:
                    continue
                except Exception as error:  # noqa: BLE001 - reported by the assertions
                    outcomes[name] = error
                    return

        threads = [threading.Thread(target=client, args=(name,)) for name in batches]
        with mute_logger("odoo.sql_db"):
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
        self.assertFalse(any(thread.is_alive() for thread in threads), "a client hung")
        for name, outcome in outcomes.items():
            self.assertIsInstance(outcome, list, f"client {name} failed: {outcome!r}")

        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT idempotency_key, count(*) FROM rbm_usage WHERE contract_id = %s GROUP BY 1",
                [self.contract_id],
            )
            rows = dict(cr.fetchall())
        self.assertEqual(len(rows), 2000)
        self.assertEqual(set(rows.values()), {1})

        status = {
            name: {r["idempotency_key"]: r["status"] for r in outcome}
            for name, outcome in outcomes.items()
        }
        common = set(status["a"]) & set(status["b"])
        self.assertEqual(len(common), 1000)
        for key in common:
            self.assertEqual(
                sorted([status["a"][key], status["b"][key]]), ["accepted", "duplicate"], key
            )
        only = (set(status["a"]) | set(status["b"])) - common
        for key in only:
            self.assertEqual(status["a"].get(key, status["b"].get(key)), "accepted", key)
        accepted = sum(s == "accepted" for st in status.values() for s in st.values())
        self.assertEqual(accepted, 2000)
        # both snapshots were taken before the race: the second client to
        # reach a common key lost it and replayed its request once
        self.assertEqual(sorted(attempts.values()), [1, 2], attempts)

    def _check_one_row_per_key(self, status, total, common_count):
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT idempotency_key, count(*) FROM rbm_usage WHERE contract_id = %s GROUP BY 1",
                [self.contract_id],
            )
            rows = dict(cr.fetchall())
        self.assertEqual(len(rows), total)
        self.assertEqual(set(rows.values()), {1})
        common = set(status["a"]) & set(status["b"])
        self.assertEqual(len(common), common_count)
        for key in common:
            self.assertEqual(
                sorted([status["a"][key], status["b"][key]]), ["accepted", "duplicate"], key
            )
        for key in (set(status["a"]) | set(status["b"])) - common:
            self.assertEqual(status["a"].get(key, status["b"].get(key)), "accepted", key)
        accepted = sum(s == "accepted" for st in status.values() for s in st.values())
        self.assertEqual(accepted, total)

    def test_two_http_clients_at_the_same_moment(self):
        """Two real HTTP clients POST overlapping batches to the Odoo HTTP
        server of this test run (not the test cursor: this is no HttpCase, the
        server serves each request in its own thread, cursor and transaction,
        committed, with the HTTP layer's replay on serialization failures).

        To be sure both requests are inside PostgreSQL at the same moment, a
        third connection holds a SHARE lock on rbm_usage: each request
        authenticates, reads its contracts and metrics, then waits at its
        INSERT. The lock is released once PostgreSQL shows both waiting; the
        first to insert a common key wins it, the other fails to serialize,
        is replayed by the server (with its body) and answers duplicate.

        The test runner holds the registry lock while the tests run; the
        server's threads need it to find the registry: it is handed over for
        the test's duration as HttpCase does (without its test cursor)."""
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            company = env["res.company"].browse(self.company_id)
            _record, key = env["rbm.api.key"]._generate("Race client", company)
        url = f"http://{HOST}:{config['http_port']}/rbm/api/v1/usage"
        # 0..1499 and 1499..500 (reversed) then 1500..2499: 1,000 keys in common
        batches = {
            "a": self._events(range(1500), "http"),
            "b": self._events([*range(1499, 499, -1), *range(1500, 2500)], "http"),
        }

        def client(batch):
            return requests.post(
                url,
                data=json.dumps({"events": batch}),
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
                timeout=120,
            )

        registry_lock = Registry._lock
        Registry._lock = DummyRLock()
        try:
            # the failed INSERT is logged by odoo.sql_db (captured, not printed)
            responses, waiting, hung, errors = race_through_table_lock(
                self,
                "rbm_usage",
                {name: (lambda batch=batch: client(batch)) for name, batch in batches.items()},
            )
        finally:
            Registry._lock = registry_lock
        self.assertEqual(waiting, 2, "both requests must wait in PostgreSQL at the same moment")
        self.assertFalse(hung, "a client hung")
        # the request that lost the race failed to serialize once, then was
        # replayed by the HTTP layer (both answered 200 below)
        conflicts = [line for line in errors if "could not serialize" in line]
        self.assertEqual(len(conflicts), 1, [line[-300:] for line in errors])
        status = {}
        for name, response in responses.items():
            self.assertIsInstance(response, requests.Response, f"client {name}: {response!r}")
            self.assertEqual(response.status_code, 200, response.text[:500])
            body = response.json()
            self.assertEqual(body["rejected"], 0)
            self.assertEqual(body["accepted"] + body["duplicate"], len(batches[name]))
            status[name] = {r["idempotency_key"]: r["status"] for r in body["results"]}
            self.assertEqual([r["index"] for r in body["results"]], list(range(len(batches[name]))))
        self._check_one_row_per_key(status, 2500, 1000)
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT count(*) FROM rbm_usage WHERE contract_id = %s AND source = 'api'",
                [self.contract_id],
            )
            self.assertEqual(cr.fetchone()[0], 2500)
