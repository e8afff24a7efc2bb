"""Billing jobs performed by real workers: each worker with its own database
connection and transaction, on committed data, as queue_job's runner does it
(the job acquired and marked started, performed, done or postponed)."""

import logging
import threading
from datetime import date
from unittest.mock import patch

from freezegun import freeze_time

from odoo import SUPERUSER_ID, api
from odoo.api import Transaction
from odoo.modules.registry import Registry
from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger

from odoo.addons.queue_job.controllers.main import RunJobController
from odoo.addons.queue_job.job import Job
from odoo.addons.rbm_recurring.tests.common import commit_contracts

_logger = logging.getLogger(__name__)

TODAY = date(2026, 11, 2)


@tagged("post_install", "-at_install")
class TestConcurrentBillingJobs(TransactionCase):
    def setUp(self):
        super().setUp()
        with self.registry.cursor() as cr:
            cr.execute("SELECT COALESCE(max(id), 0) FROM queue_job")
            self.last_job_id = cr.fetchone()[0]
        self.ids, self.partner_ids = commit_contracts(self, 6, date(2026, 10, 1), "Jobs")
        # runs before the contracts are deleted (cleanups run last added, first)
        self.addCleanup(self._delete_jobs)

    def _delete_jobs(self):
        with self.registry.cursor() as cr:
            cr.execute("DELETE FROM queue_job WHERE id > %s", [self.last_job_id])

    def _enqueue(self, chunks):
        """Enqueue a billing job per chunk of contract indexes and hand them to
        the workers (state enqueued, as the runner does); their uuids."""
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            Run = env["rbm.billing.run"]
            Contract = env["rbm.contract"]
            records = [Contract.browse([self.ids[i] for i in chunk]) for chunk in chunks]
            Run._enqueue_bill_jobs(records, TODAY)
            keys = [Run._bill_job_identity_key(chunk, TODAY) for chunk in records]
            jobs = env["queue.job"].search([("identity_key", "in", keys)])
            self.assertEqual(len(jobs), len(chunks))
            for job in jobs:
                self._set_enqueued(env, job.uuid)
            return [jobs.filtered(lambda j, key=key: j.identity_key == key).uuid for key in keys]

    def _set_enqueued(self, env, uuid):
        job = Job.load(env, uuid)
        job.set_enqueued()
        job.store()

    def _jobs(self, cr):
        cr.execute(
            "SELECT uuid, state, retry, result FROM queue_job WHERE id > %s ORDER BY id",
            [self.last_job_id],
        )
        return cr.fetchall()

    def _perform(self, uuid, outcomes, barrier=None, before=None):
        """A runner's worker: acquire the job (started, committed), perform it,
        commit. ``before(cr)`` runs in the job's transaction first."""
        try:
            with self.registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                job = RunJobController._acquire_job(env, uuid)
                if barrier:
                    barrier.wait(timeout=20)
                if before:
                    before(cr)
                RunJobController._runjob(env, job)
            # leaving the cursor commits, as the runner does (not when tests
            # are enabled)
            outcomes.append(("ok", uuid))
        except Exception as error:  # noqa: BLE001 - reported by the assertions
            outcomes.append(("error", f"{type(error).__name__}: {error}"))

    def _run_threads(self, threads):
        registry_cursor = Registry.cursor

        def cursor(registry, *args, **kwargs):
            # the test runner holds the registry lock: hand the registry over
            # to the workers' cursors (queue_job opens one to postpone a job)
            # rather than letting Environment look it up
            cr = registry_cursor(registry, *args, **kwargs)
            cr.transaction = Transaction(registry)
            return cr

        with (
            patch.object(Registry, "cursor", cursor),
            freeze_time(TODAY),
            mute_logger(
                "odoo.sql_db",
                "odoo.addons.queue_job.controllers.main",
                "odoo.addons.rbm_recurring.models.rbm_contract",
            ),
        ):
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
        self.assertFalse(any(thread.is_alive() for thread in threads), "a worker hung")

    def _run_pending(self, outcomes, rounds=5):
        """Jobs postponed (a retry) or enqueued by a job (contracts held by
        another transaction) are performed as the runner would once their
        time comes, until none is left."""
        for _round in range(rounds):
            with self.registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                pending = [uuid for uuid, state, _r, _s in self._jobs(cr) if state == "pending"]
                for uuid in pending:
                    self._set_enqueued(env, uuid)
            if not pending:
                return
            for uuid in pending:
                self._run_threads([threading.Thread(target=self._perform, args=(uuid, outcomes))])
        self.fail(f"jobs still pending after {rounds} rounds")

    def _billed(self):
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT rbm_contract_id, rbm_period_start, count(*) FROM account_move "
                "WHERE rbm_contract_id IN %s GROUP BY 1, 2",
                [tuple(self.ids)],
            )
            return cr.fetchall()

    # ------------------------------------------------------------
    # TESTS
    # ------------------------------------------------------------

    def test_two_workers_performing_overlapping_jobs_bill_each_period_once(self):
        """Two jobs sharing two contracts, performed at the same moment: one
        locks the shared contracts, the other skips them (and enqueues them
        again) or, when the first committed meanwhile, is retried. Each of the
        six contracts is billed for October and November exactly once."""
        uuids = self._enqueue([(0, 1, 2, 3), (2, 3, 4, 5)])
        barrier = threading.Barrier(2)
        outcomes = []
        self._run_threads(
            [
                threading.Thread(target=self._perform, args=(uuid, outcomes, barrier))
                for uuid in uuids
            ]
        )
        self._run_pending(outcomes)
        self.assertEqual({kind for kind, _detail in outcomes}, {"ok"}, outcomes)
        rows = self._billed()
        self.assertEqual(len(rows), 12, rows)
        self.assertEqual({count for _c, _p, count in rows}, {1}, rows)
        with self.registry.cursor() as cr:
            jobs = self._jobs(cr)
        self.assertEqual({state for _u, state, _r, _s in jobs}, {"done"}, jobs)
        # the race went one of the two ways: the shared contracts were skipped
        # and enqueued again (a third job), or the loser was retried
        follow_ups = len(jobs) - 2
        retried = [uuid for uuid, _s, retry, _r in jobs if retry > 1]
        self.assertTrue(follow_ups == 1 or retried, jobs)
        _logger.info("overlapping jobs: %s follow-up jobs, %s retried", follow_ups, len(retried))

    def test_job_meeting_a_lock_is_retried_and_later_bills(self):
        """Another transaction holds a customer's row: the job cannot create
        the invoice (lock timeout), rolls back and is postponed by queue_job
        (RetryableJobError, retry 1); performed again once the row is free, it
        bills both contracts' periods once."""
        (uuid,) = self._enqueue([(0, 1)])
        outcomes = []
        with self.registry.cursor() as holder:
            holder.execute(
                "SELECT id FROM res_partner WHERE id = %s FOR UPDATE", [self.partner_ids[0]]
            )
            self._run_threads(
                [
                    threading.Thread(
                        target=self._perform,
                        args=(uuid, outcomes),
                        kwargs={
                            "before": lambda cr: cr.execute("SET LOCAL lock_timeout = '300ms'")
                        },
                    )
                ]
            )
            holder.rollback()
        with self.registry.cursor() as cr:
            ((_uuid, state, retry, result),) = self._jobs(cr)
        self.assertEqual((state, retry), ("pending", 1), outcomes)
        self.assertIn("postponed by a concurrent transaction", result)
        self.assertFalse(self._billed())

        self._run_pending(outcomes)
        self.assertEqual({kind for kind, _detail in outcomes}, {"ok"}, outcomes)
        rows = self._billed()
        self.assertEqual(
            sorted((c, p) for c, p, _n in rows),
            sorted(
                (self.ids[i], start)
                for i in (0, 1)
                for start in (date(2026, 10, 1), date(2026, 11, 1))
            ),
        )
        self.assertEqual({count for _c, _p, count in rows}, {1})
        with self.registry.cursor() as cr:
            ((_uuid, state, retry, _result),) = self._jobs(cr)
        self.assertEqual((state, retry), ("done", 2))
