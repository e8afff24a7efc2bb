"""The collection run, price adjustment, usage rating, card charges and
provisioning deliveries as jobs performed by real workers (own connections,
committed data): jobs of the same run performed at the same moment do every
step once, a job meeting a lock is retried (or its rows enqueued again) and
then does its work once, a run started twice enqueues nothing twice."""

import json
import threading
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from freezegun import freeze_time

from odoo import SUPERUSER_ID, Command, api
from odoo.tests import tagged

from odoo.addons.rbm_recurring.tests.common import commit_contracts

from .common import JobWorkersCase


def _description(index, count, chunk):
    return f"test chunk {index} of {count}"


@tagged("post_install", "-at_install")
class TestCollectionJobs(JobWorkersCase):
    """Four contracts billed on 01/10/2026, one installment each; the
    customers' policy has two activity steps (day 0 and day 1). On
    15/12/2026 both steps are due on the four installments: 8 steps."""

    today = date(2026, 12, 15)

    def setUp(self):
        super().setUp()
        self.ids, self.partner_ids = commit_contracts(self, 4, date(2026, 10, 1), "Collection job")
        self.addCleanup(self._delete)

        def fixture(env):
            contracts = env["rbm.contract"].browse(self.ids)
            with freeze_time("2026-10-01"):
                result = env["rbm.billing.run"]._bill(contracts, date(2026, 10, 1))
            policy = env["rbm.collection.policy"].create(
                {
                    "name": "Collection job policy",
                    "skip_past_steps": False,
                    "date_start": date(2026, 1, 1),
                    "step_ids": [
                        Command.create({"day_offset": 0, "action": "activity"}),
                        Command.create({"day_offset": 1, "action": "activity"}),
                    ],
                }
            )
            env["res.partner"].browse(self.partner_ids).rbm_collection_policy_id = policy
            lines = result["moves"].line_ids.filtered(
                lambda line: line.display_type == "payment_term"
            )
            return policy.id, policy.step_ids.ids, lines.ids

        self.policy_id, self.step_ids, self.line_ids = self._committed(fixture)
        # worked out: one installment per invoice
        self.assertEqual(len(self.line_ids), 4)

    def _delete(self):
        self._delete_jobs()
        with self.registry.cursor() as cr:
            cr.execute("DELETE FROM rbm_collection_log WHERE policy_id = %s", [self.policy_id])
            cr.execute(
                "DELETE FROM mail_activity WHERE res_model = 'account.move' AND res_id IN "
                "(SELECT id FROM account_move WHERE rbm_contract_id IN %s)",
                [tuple(self.ids)],
            )
            cr.execute(
                "UPDATE res_partner SET rbm_collection_policy_id = NULL WHERE id IN %s",
                [tuple(self.partner_ids)],
            )
            cr.execute("DELETE FROM rbm_collection_policy WHERE id = %s", [self.policy_id])

    def _enqueue_chunks(self, chunks):
        def enqueue(env):
            Run = env["rbm.collection.run"]
            lines = env["account.move.line"]
            env["rbm.job.run"]._enqueue(
                Run,
                "_collection_job",
                [lines.browse([self.line_ids[i] for i in chunk]) for chunk in chunks],
                self.today,
                _description,
            )

        return self._enqueue(enqueue)

    def _logs(self):
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT move_line_id, step_id, count(*), min(state) FROM rbm_collection_log "
                "WHERE policy_id = %s GROUP BY 1, 2",
                [self.policy_id],
            )
            return cr.fetchall()

    def _assert_each_step_once(self):
        rows = self._logs()
        self.assertEqual(
            sorted((line, step) for line, step, _n, _s in rows),
            sorted((line, step) for line in self.line_ids for step in self.step_ids),
        )
        self.assertEqual({count for _l, _s, count, _st in rows}, {1}, rows)
        self.assertEqual({state for _l, _s, _c, state in rows}, {"done"}, rows)
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT res_id, count(*) FROM mail_activity WHERE res_model = 'account.move' "
                "AND res_id IN (SELECT move_id FROM account_move_line WHERE id IN %s) "
                "GROUP BY 1",
                [tuple(self.line_ids)],
            )
            activities = cr.fetchall()
        # one activity per step performed: two per invoice
        self.assertEqual({count for _m, count in activities}, {2}, activities)
        self.assertEqual(len(activities), 4)

    def test_two_workers_performing_overlapping_jobs_perform_each_step_once(self):
        uuids = self._enqueue_chunks([(0, 1, 2), (1, 2, 3)])
        self.assertEqual(len(uuids), 2)
        outcomes = self._run_concurrently(uuids)
        self._run_pending(outcomes)
        self._assert_all_done(outcomes)
        self._assert_each_step_once()

    def test_job_meeting_a_lock_is_retried_and_then_performs_each_step_once(self):
        (uuid,) = self._enqueue_chunks([(0, 1, 2, 3)])
        outcomes = self._perform_while_held(uuid, "res_partner", self.partner_ids[0])
        ((_uuid, state, retry, result),) = self._jobs()
        self.assertEqual((state, retry), ("pending", 1), outcomes)
        self.assertTrue(result, "the postponement says why")
        self.assertFalse(self._logs(), "the postponed job left nothing behind")
        self._run_pending(outcomes)
        ((_uuid, state, retry, _result),) = self._assert_all_done(outcomes)
        self.assertEqual(retry, 2)
        self._assert_each_step_once()

    def test_cron_started_twice_enqueues_nothing_twice(self):
        def cron(env):
            return env["rbm.collection.run"]._cron_collection_run(batch_size=2)

        first = self._committed(cron)
        second = self._committed(cron)
        self.assertGreaterEqual(first["installments"], 4)
        self.assertEqual(second["enqueued"], 0)
        self.assertEqual(second["queued"], first["enqueued"] + first["queued"])
        jobs = self._jobs()
        self.assertEqual(len(jobs), first["enqueued"])
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT count(DISTINCT identity_key), count(*), array_agg(DISTINCT channel) "
                "FROM queue_job WHERE id > %s",
                [self.last_job_id],
            )
            keys, count, channels = cr.fetchone()
        self.assertEqual(keys, count)
        self.assertEqual(channels, ["root.rbm.collection"])
        self.assertFalse(self._logs(), "the cron itself performs no step")


@tagged("post_install", "-at_install")
class TestPriceAdjustmentJobs(JobWorkersCase):
    """Four contracts from 15/03/2026 on a plan adjusted by an index with a
    30-day notice: on 13/02/2027 each gets its notice, once."""

    today = date(2027, 2, 13)

    def setUp(self):
        super().setUp()
        self.addCleanup(self._delete)

        def fixture(env):
            index = env["rbm.price.index"].create(
                {
                    "name": "Job index",
                    "code": "custom",
                    "value_ids": [
                        Command.create({"month": date(2026, month, 1), "value": 0.5})
                        for month in range(3, 13)
                    ]
                    + [Command.create({"month": date(2027, 1, 1), "value": 0.5})],
                }
            )
            product = env["product.product"].create(
                {"name": "Job adjusted plan", "type": "service", "taxes_id": [Command.clear()]}
            )
            plan = env["rbm.plan"].create(
                {
                    "name": "Job adjusted",
                    "price_index_id": index.id,
                    "adjustment_notice_days": 30,
                    "line_ids": [
                        Command.create({"product_id": product.id, "quantity": 1, "price_unit": 100})
                    ],
                }
            )
            partners = env["res.partner"].create(
                [
                    {"name": f"Adjusted customer {i}", "email": f"adjusted{i}@example.com"}
                    for i in range(4)
                ]
            )
            contracts = env["rbm.contract"].create(
                [
                    {"partner_id": p.id, "plan_id": plan.id, "date_start": date(2026, 3, 15)}
                    for p in partners
                ]
            )
            contracts.action_activate()
            return index.id, product.id, plan.id, partners.ids, contracts.ids

        (self.index_id, self.product_id, self.plan_id, self.partner_ids, self.ids) = (
            self._committed(fixture)
        )

    def _delete(self):
        self._delete_jobs()
        with self.registry.cursor() as cr:
            ids = tuple(self.ids)
            cr.execute("DELETE FROM rbm_price_adjustment WHERE contract_id IN %s", [ids])
            cr.execute(
                "DELETE FROM mail_message WHERE model = 'rbm.contract' AND res_id IN %s", [ids]
            )
            cr.execute(
                "DELETE FROM mail_followers WHERE res_model = 'rbm.contract' AND res_id IN %s",
                [ids],
            )
            cr.execute("DELETE FROM rbm_mrr_event WHERE contract_id IN %s", [ids])
            cr.execute("DELETE FROM rbm_contract WHERE id IN %s", [ids])
            cr.execute("DELETE FROM rbm_plan WHERE id = %s", [self.plan_id])
            cr.execute("DELETE FROM rbm_price_index WHERE id = %s", [self.index_id])
            cr.execute(
                "DELETE FROM mail_followers WHERE partner_id IN %s", [tuple(self.partner_ids)]
            )
            cr.execute("DELETE FROM res_partner WHERE id IN %s", [tuple(self.partner_ids)])
            cr.execute(
                "DELETE FROM product_template WHERE id IN "
                "(SELECT product_tmpl_id FROM product_product WHERE id = %s)",
                [self.product_id],
            )

    def _enqueue_chunks(self, chunks):
        def enqueue(env):
            contracts = env["rbm.contract"]
            env["rbm.job.run"]._enqueue(
                contracts,
                "_price_adjustment_job",
                [contracts.browse([self.ids[i] for i in chunk]) for chunk in chunks],
                self.today,
                _description,
            )

        return self._enqueue(enqueue)

    def _adjustments(self):
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT contract_id, anniversary, state, count(*) OVER (PARTITION BY contract_id) "
                "FROM rbm_price_adjustment WHERE contract_id IN %s",
                [tuple(self.ids)],
            )
            return cr.fetchall()

    def _assert_each_notified_once(self):
        rows = self._adjustments()
        self.assertEqual(
            sorted(rows),
            sorted((cid, date(2027, 3, 15), "notified", 1) for cid in self.ids),
        )
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT res_id, count(*) FROM mail_message WHERE model = 'rbm.contract' "
                "AND res_id IN %s AND message_type = 'comment' AND subject IS NOT NULL GROUP BY 1",
                [tuple(self.ids)],
            )
            notices = dict(cr.fetchall())
        self.assertEqual(notices, dict.fromkeys(self.ids, 1))

    def test_two_workers_performing_overlapping_jobs_notify_each_contract_once(self):
        uuids = self._enqueue_chunks([(0, 1, 2), (1, 2, 3)])
        outcomes = self._run_concurrently(uuids)
        self._run_pending(outcomes)
        jobs = self._assert_all_done(outcomes)
        self._assert_each_notified_once()
        # the race went one of the two ways: the shared contracts were skipped
        # and enqueued again (a third job), or the loser was retried
        self.assertTrue(len(jobs) == 3 or any(retry > 1 for _u, _s, retry, _r in jobs), jobs)

    def test_job_meeting_a_lock_is_retried_and_then_notifies_each_contract_once(self):
        (uuid,) = self._enqueue_chunks([(0, 1, 2, 3)])
        outcomes = self._perform_while_held(uuid, "res_partner", self.partner_ids[2])
        ((_uuid, state, retry, result),) = self._jobs()
        self.assertEqual((state, retry), ("pending", 1), outcomes)
        self.assertTrue(result, "the postponement says why")
        self.assertFalse(self._adjustments(), "the postponed job left nothing behind")
        self._run_pending(outcomes)
        ((_uuid, state, retry, _result),) = self._assert_all_done(outcomes)
        self.assertEqual(retry, 2)
        self._assert_each_notified_once()

    def test_cron_started_twice_enqueues_nothing_twice(self):
        def cron(env):
            return env["rbm.contract"]._cron_price_adjustment(batch_size=2)

        first = self._committed(cron)
        second = self._committed(cron)
        self.assertGreaterEqual(first["contracts"], 4)
        self.assertEqual((second["enqueued"], second["queued"]), (0, first["enqueued"]))
        self.assertEqual(len(self._jobs()), first["enqueued"])
        self.assertFalse(self._adjustments(), "the cron itself adjusts nothing")
        self.assertEqual(self._channels(), {"root.rbm.price_adjustment"})


@tagged("post_install", "-at_install")
class TestRatingJobs(JobWorkersCase):
    """Three contracts with 10 GB included; 12 GB used this month: each
    crosses 80% and 100% at once, two alerts per contract (80% superseded,
    100% sent), once."""

    today = date(2026, 11, 20)

    def setUp(self):
        super().setUp()
        self.addCleanup(self._delete)

        def fixture(env):
            metric = env["rbm.metric"].create(
                {"code": "job_gb", "name": "Job storage", "unit_label": "GB"}
            )
            product = env["product.product"].create(
                {"name": "Job cloud", "type": "service", "taxes_id": [Command.clear()]}
            )
            plan = env["rbm.plan"].create(
                {
                    "name": "Job cloud plan",
                    "line_ids": [
                        Command.create({"product_id": product.id, "price_unit": 10}),
                        Command.create(
                            {
                                "product_id": product.id,
                                "metric_id": metric.id,
                                "price_unit": 1,
                                "allowance": 10,
                            }
                        ),
                    ],
                }
            )
            partners = env["res.partner"].create(
                [
                    {"name": f"Rated customer {i}", "email": f"rated{i}@example.com"}
                    for i in range(3)
                ]
            )
            contracts = env["rbm.contract"].create(
                [
                    {"partner_id": p.id, "plan_id": plan.id, "date_start": date(2026, 11, 1)}
                    for p in partners
                ]
            )
            contracts.action_activate()
            env["rbm.usage"].create(
                [
                    {
                        "contract_id": contract.id,
                        "metric_id": metric.id,
                        "quantity": 6,
                        "timestamp": datetime(2026, 11, day, 12),
                        "idempotency_key": f"job-{contract.id}-{day}",
                    }
                    for contract in contracts
                    for day in (3, 10)
                ]
            )
            return metric.id, product.id, plan.id, partners.ids, contracts.ids

        (self.metric_id, self.product_id, self.plan_id, self.partner_ids, self.ids) = (
            self._committed(fixture)
        )

    def _delete(self):
        self._delete_jobs()
        with self.registry.cursor() as cr:
            ids = tuple(self.ids)
            cr.execute("DELETE FROM rbm_usage_alert WHERE contract_id IN %s", [ids])
            cr.execute("DELETE FROM rbm_usage WHERE contract_id IN %s", [ids])
            cr.execute(
                "DELETE FROM mail_message WHERE model = 'rbm.contract' AND res_id IN %s", [ids]
            )
            cr.execute(
                "DELETE FROM mail_followers WHERE res_model = 'rbm.contract' AND res_id IN %s",
                [ids],
            )
            cr.execute("DELETE FROM rbm_mrr_event WHERE contract_id IN %s", [ids])
            cr.execute("DELETE FROM rbm_contract WHERE id IN %s", [ids])
            cr.execute("DELETE FROM rbm_plan WHERE id = %s", [self.plan_id])
            cr.execute("DELETE FROM rbm_metric WHERE id = %s", [self.metric_id])
            cr.execute(
                "DELETE FROM mail_followers WHERE partner_id IN %s", [tuple(self.partner_ids)]
            )
            cr.execute("DELETE FROM res_partner WHERE id IN %s", [tuple(self.partner_ids)])
            cr.execute(
                "DELETE FROM product_template WHERE id IN "
                "(SELECT product_tmpl_id FROM product_product WHERE id = %s)",
                [self.product_id],
            )

    def _enqueue_chunks(self, chunks):
        def enqueue(env):
            Alert = env["rbm.usage.alert"]
            contracts = env["rbm.contract"]
            env["rbm.job.run"]._enqueue(
                Alert,
                "_rating_job",
                [contracts.browse([self.ids[i] for i in chunk]) for chunk in chunks],
                self.today,
                _description,
            )

        return self._enqueue(enqueue)

    def _alerts(self):
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT contract_id, threshold, state, quantity, allowance FROM rbm_usage_alert "
                "WHERE contract_id IN %s",
                [tuple(self.ids)],
            )
            return cr.fetchall()

    def _assert_each_alert_once(self):
        self.assertEqual(
            sorted(self._alerts()),
            sorted(
                (cid, threshold, state, 12.0, 10.0)
                for cid in self.ids
                for threshold, state in ((80, "superseded"), (100, "sent"))
            ),
        )

    def test_two_workers_performing_overlapping_jobs_send_each_alert_once(self):
        uuids = self._enqueue_chunks([(0, 1), (1, 2)])
        outcomes = self._run_concurrently(uuids)
        self._run_pending(outcomes)
        self._assert_all_done(outcomes)
        self._assert_each_alert_once()

    def test_job_meeting_a_lock_is_retried_and_then_sends_each_alert_once(self):
        (uuid,) = self._enqueue_chunks([(0, 1, 2)])
        outcomes = self._perform_while_held(uuid, "rbm_contract", self.ids[1])
        ((_uuid, state, retry, result),) = self._jobs()
        self.assertEqual((state, retry), ("pending", 1), outcomes)
        self.assertTrue(result, "the postponement says why")
        self.assertFalse(self._alerts(), "the postponed job left nothing behind")
        self._run_pending(outcomes)
        ((_uuid, state, retry, _result),) = self._assert_all_done(outcomes)
        self.assertEqual(retry, 2)
        self._assert_each_alert_once()

    def test_cron_started_twice_enqueues_nothing_twice(self):
        def cron(env):
            return env["rbm.usage.alert"]._cron_check_usage_alerts(batch_size=2)

        first = self._committed(cron)
        second = self._committed(cron)
        self.assertGreaterEqual(first["contracts"], 3)
        self.assertEqual((second["enqueued"], second["queued"]), (0, first["enqueued"]))
        self.assertEqual(len(self._jobs()), first["enqueued"])
        self.assertFalse(self._alerts(), "the cron itself rates nothing")
        self.assertEqual(self._channels(), {"root.rbm.rating"})


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server API
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.received.append((self.headers["X-RBM-Delivery"], json.loads(body)["id"]))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@tagged("post_install", "-at_install")
class TestProvisioningJobs(JobWorkersCase):
    """Four contracts' 'activated' events for an endpoint served by a local
    HTTP server: each event POSTed once."""

    today = date(2026, 11, 2)

    def setUp(self):
        super().setUp()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
        self.server.received = []
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.addCleanup(self.server.server_close)
        self.addCleanup(self.server.shutdown)
        self.ids, _partner_ids = commit_contracts(self, 4, date(2026, 10, 1), "Provisioning job")
        self.addCleanup(self._delete)
        url = f"http://127.0.0.1:{self.server.server_address[1]}/events"

        def fixture(env):
            params = env["ir.config_parameter"].sudo()
            self.params = {
                key: params.get_param(key)
                for key in (
                    "rbm_recurring.outbound_allowed_networks",
                    "rbm_recurring.outbound_allow_http",
                )
            }
            params.set_param("rbm_recurring.outbound_allowed_networks", "127.0.0.0/8")
            params.set_param("rbm_recurring.outbound_allow_http", "1")
            endpoint = env["rbm.provisioning.endpoint"].create({"name": "Job panel", "url": url})
            events = env["rbm.provisioning.event"]._emit(
                env["rbm.contract"].browse(self.ids), "activated"
            )
            return endpoint.id, events.ids

        self.endpoint_id, self.event_ids = self._committed(fixture)
        self.assertEqual(len(self.event_ids), 4)

    def _delete(self):
        self._delete_jobs()
        with self.registry.cursor() as cr:
            cr.execute(
                "DELETE FROM rbm_provisioning_event WHERE endpoint_id = %s", [self.endpoint_id]
            )
            cr.execute("DELETE FROM rbm_provisioning_endpoint WHERE id = %s", [self.endpoint_id])
            for key, value in self.params.items():
                cr.execute("DELETE FROM ir_config_parameter WHERE key = %s", [key])
                if value is not None:
                    cr.execute(
                        "INSERT INTO ir_config_parameter (key, value) VALUES (%s, %s)", [key, value]
                    )

    def _enqueue_chunks(self, chunks):
        def enqueue(env):
            Event = env["rbm.provisioning.event"]
            env["rbm.job.run"]._enqueue(
                Event,
                "_deliver_job",
                [Event.browse([self.event_ids[i] for i in chunk]) for chunk in chunks],
                self.today,
                _description,
            )

        return self._enqueue(enqueue)

    def _assert_each_event_sent_once(self):
        self.assertEqual(
            sorted(self.server.received), sorted((str(eid), eid) for eid in self.event_ids)
        )
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT state, tries FROM rbm_provisioning_event WHERE id IN %s",
                [tuple(self.event_ids)],
            )
            self.assertEqual(set(cr.fetchall()), {("done", 1)})

    def test_two_workers_performing_overlapping_jobs_send_each_event_once(self):
        uuids = self._enqueue_chunks([(0, 1, 2), (1, 2, 3)])
        outcomes = self._run_concurrently(uuids)
        self._run_pending(outcomes)
        self._assert_all_done(outcomes)
        self._assert_each_event_sent_once()

    def test_event_held_by_another_transaction_is_sent_once_later(self):
        """The job cannot lock an event another transaction holds: it sends
        the others and enqueues the held one again; that job sends it."""
        (uuid,) = self._enqueue_chunks([(0, 1, 2, 3)])
        outcomes = self._perform_while_held(uuid, "rbm_provisioning_event", self.event_ids[1])
        jobs = self._jobs()
        self.assertEqual([state for _u, state, _r, _s in jobs], ["done", "pending"], outcomes)
        self.assertEqual(len(self.server.received), 3)
        self._run_pending(outcomes)
        self._assert_all_done(outcomes)
        self._assert_each_event_sent_once()

    def test_cron_started_twice_enqueues_nothing_twice(self):
        def cron(env):
            return env["rbm.provisioning.event"]._cron_deliver(batch_size=2)

        first = self._committed(cron)
        second = self._committed(cron)
        self.assertGreaterEqual(first["events"], 4)
        self.assertEqual((second["enqueued"], second["queued"]), (0, first["enqueued"]))
        self.assertEqual(len(self._jobs()), first["enqueued"])
        self.assertFalse(self.server.received, "the cron itself sends nothing")
        self.assertEqual(self._channels(), {"root.rbm.provisioning"})


@tagged("post_install", "-at_install")
class TestCardJobs(JobWorkersCase):
    """Three contracts paid by saved cards of the demo provider (approved),
    billed on 01/10/2026: each invoice's card is charged once, attempt 1."""

    today = date(2026, 10, 2)

    def setUp(self):
        super().setUp()
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            if env["ir.module.module"]._get("payment_demo").state != "installed":
                self.skipTest("the card charge tests need the addon payment_demo")
        self.ids, self.partner_ids = commit_contracts(self, 3, date(2026, 10, 1), "Card job")
        self.addCleanup(self._delete)

        def fixture(env):
            company = env.company
            self.retry_days = company.rbm_card_retry_days
            company.rbm_card_retry_days = "1,3,5,7"
            journal = env["account.journal"].search(
                [("type", "=", "bank"), ("company_id", "=", company.id)], limit=1
            )
            provider = env.ref("payment.payment_provider_demo").copy(
                {"company_id": company.id, "name": "Job demo cards"}
            )
            provider.write({"state": "test", "journal_id": journal.id})
            method = env.ref("payment_demo.payment_method_demo")
            contracts = env["rbm.contract"].browse(self.ids)
            for contract in contracts:
                token = env["payment.token"].create(
                    {
                        "provider_id": provider.id,
                        "payment_method_id": method.id,
                        "partner_id": contract.partner_id.id,
                        "payment_details": "4242",
                        "provider_ref": f"job-{contract.id}",
                        "demo_simulated_state": "done",
                    }
                )
                contract.write({"payment_mode": "card", "payment_token_id": token.id})
            with freeze_time("2026-10-01"):
                moves = env["rbm.billing.run"]._bill(contracts, date(2026, 10, 1))["moves"]
            return provider.id, moves.ids

        self.provider_id, self.move_ids = self._committed(fixture)
        self.assertEqual(len(self.move_ids), 3)

    def _delete(self):
        self._delete_jobs()
        with self.registry.cursor() as cr:
            moves = tuple(self.move_ids)
            cr.execute(
                "SELECT id FROM payment_transaction WHERE provider_id = %s", [self.provider_id]
            )
            tx_ids = tuple(row[0] for row in cr.fetchall()) or (0,)
            cr.execute(
                "SELECT id, move_id FROM account_payment WHERE payment_transaction_id IN %s",
                [tx_ids],
            )
            rows = cr.fetchall()
            payment_ids = tuple(row[0] for row in rows) or (0,)
            payment_moves = tuple(row[1] for row in rows if row[1]) or (0,)
            cr.execute("DELETE FROM rbm_card_attempt WHERE move_id IN %s", [moves])
            cr.execute("UPDATE payment_transaction SET payment_id = NULL WHERE id IN %s", [tx_ids])
            cr.execute(
                "DELETE FROM account_partial_reconcile WHERE credit_move_id IN "
                "(SELECT id FROM account_move_line WHERE move_id IN %s) OR debit_move_id IN "
                "(SELECT id FROM account_move_line WHERE move_id IN %s)",
                [payment_moves, moves],
            )
            cr.execute(
                "UPDATE account_move_line SET full_reconcile_id = NULL WHERE move_id IN %s "
                "OR move_id IN %s",
                [payment_moves, moves],
            )
            cr.execute("DELETE FROM account_move_line WHERE move_id IN %s", [payment_moves])
            cr.execute("DELETE FROM account_payment WHERE id IN %s", [payment_ids])
            cr.execute("DELETE FROM account_move WHERE id IN %s", [payment_moves])
            cr.execute("DELETE FROM payment_transaction WHERE id IN %s", [tx_ids])
            cr.execute(
                "UPDATE rbm_contract SET payment_token_id = NULL, payment_mode = NULL "
                "WHERE id IN %s",
                [tuple(self.ids)],
            )
            cr.execute("DELETE FROM payment_token WHERE provider_id = %s", [self.provider_id])
            cr.execute("DELETE FROM payment_provider WHERE id = %s", [self.provider_id])
            cr.execute(
                "UPDATE res_company SET rbm_card_retry_days = %s WHERE id = "
                "(SELECT company_id FROM rbm_contract WHERE id = %s)",
                [self.retry_days, self.ids[0]],
            )

    def _enqueue_chunks(self, chunks):
        def enqueue(env):
            Attempt = env["rbm.card.attempt"]
            moves = env["account.move"]
            env["rbm.job.run"]._enqueue(
                Attempt,
                "_card_job",
                [moves.browse([self.move_ids[i] for i in chunk]) for chunk in chunks],
                self.today,
                _description,
                args=("post",),
            )

        return self._enqueue(enqueue)

    def _attempts(self):
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT a.move_id, a.attempt_number, a.state, a.amount, t.state "
                "FROM rbm_card_attempt a JOIN payment_transaction t ON t.id = a.transaction_id "
                "WHERE a.move_id IN %s",
                [tuple(self.move_ids)],
            )
            return cr.fetchall()

    def _assert_each_charged_once(self):
        # the plan of commit_contracts: 50.00 a month, no tax
        self.assertEqual(
            sorted(self._attempts()),
            sorted((move_id, 1, "done", 50.0, "done") for move_id in self.move_ids),
        )
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT payment_state, rbm_card_charge_due FROM account_move WHERE id IN %s",
                [tuple(self.move_ids)],
            )
            self.assertEqual(set(cr.fetchall()), {("paid", False)})

    def test_two_workers_performing_overlapping_jobs_charge_each_card_once(self):
        uuids = self._enqueue_chunks([(0, 1), (1, 2)])
        outcomes = self._run_concurrently(uuids)
        self._run_pending(outcomes)
        self._assert_all_done(outcomes)
        self._assert_each_charged_once()

    def test_job_meeting_a_lock_is_retried_and_then_charges_each_card_once(self):
        (uuid,) = self._enqueue_chunks([(0, 1, 2)])
        outcomes = self._perform_while_held(uuid, "res_partner", self.partner_ids[1])
        ((_uuid, state, retry, result),) = self._jobs()
        self.assertEqual((state, retry), ("pending", 1), outcomes)
        self.assertTrue(result, "the postponement says why")
        self.assertFalse(self._attempts(), "the postponed job charged nothing")
        self._run_pending(outcomes)
        ((_uuid, state, retry, _result),) = self._assert_all_done(outcomes)
        self.assertEqual(retry, 2)
        self._assert_each_charged_once()

    def test_job_performed_again_after_a_crash_never_charges_twice(self):
        """A worker killed while the provider charged the first invoice: its
        attempt and transaction were committed before the call, the answer
        never was. queue_job performs the job again: the first invoice is no
        longer due (its attempt waits, for someone to check it with the
        provider), the others are charged once."""

        def reserve(env):
            move = env["account.move"].browse(self.move_ids[0])
            attempt = move._rbm_reserve_card_attempt("post", move._rbm_get_card_token(None))
            return attempt.id

        attempt_id = self._committed(reserve)
        (uuid,) = self._enqueue_chunks([(0, 1, 2)])
        outcomes = self._run_concurrently([uuid])
        self._assert_all_done(outcomes)
        attempts = sorted(self._attempts())
        self.assertEqual(
            attempts,
            sorted(
                [(self.move_ids[0], 1, "pending", 50.0, "draft")]
                + [(move_id, 1, "done", 50.0, "done") for move_id in self.move_ids[1:]]
            ),
        )
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT count(*) FROM payment_transaction WHERE provider_id = %s",
                [self.provider_id],
            )
            self.assertEqual(cr.fetchone()[0], 3, "one transaction per invoice")
            cr.execute("SELECT state FROM rbm_card_attempt WHERE id = %s", [attempt_id])
            self.assertEqual(cr.fetchone()[0], "pending")

    def test_cron_started_twice_enqueues_nothing_twice(self):
        def cron(env):
            return env["rbm.card.attempt"]._cron_card_retries(batch_size=2)

        first = self._committed(cron)
        second = self._committed(cron)
        self.assertGreaterEqual(first["invoices"], 3)
        self.assertEqual((second["enqueued"], second["queued"]), (0, first["enqueued"]))
        self.assertEqual(len(self._jobs()), first["enqueued"])
        self.assertFalse(self._attempts(), "the cron itself charges nothing")
        self.assertEqual(self._channels(), {"root.rbm.card"})
