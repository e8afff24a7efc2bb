"""Billing jobs performed by real workers: each worker with its own database
connection and transaction, on committed data, as queue_job's runner does it
(the job acquired and marked started, performed, done or postponed)."""

import logging
import threading
from datetime import date, timedelta

from odoo import SUPERUSER_ID, api
from odoo.tests import tagged

from odoo.addons.rbm_recurring.tests.common import commit_contracts

from .common import JobWorkersCase

_logger = logging.getLogger(__name__)

TODAY = date(2026, 11, 2)


@tagged("post_install", "-at_install")
class TestConcurrentBillingJobs(JobWorkersCase):
    today = TODAY

    def setUp(self):
        super().setUp()
        self.ids, self.partner_ids = commit_contracts(self, 6, date(2026, 10, 1), "Jobs")
        # runs before the contracts are deleted (cleanups run last added, first)
        self.addCleanup(self._delete_jobs)

    def _enqueue_chunks(self, chunks):
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
        uuids = self._enqueue_chunks([(0, 1, 2, 3), (2, 3, 4, 5)])
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
        jobs = self._jobs()
        self.assertEqual({state for _u, state, _r, _s in jobs}, {"done"}, jobs)
        # the race went one of the two ways: the shared contracts were skipped
        # and enqueued again (a third job), or the loser was retried
        follow_ups = len(jobs) - 2
        retried = [uuid for uuid, _s, retry, _r in jobs if retry > 1]
        self.assertTrue(follow_ups == 1 or retried, jobs)
        if follow_ups:
            # the contracts held are enqueued under the follow-up key of the
            # shared contracts (2 and 3), not under the key of a first job
            with self.registry.cursor() as cr:
                cr.execute("SELECT identity_key FROM queue_job WHERE uuid = %s", [jobs[2][0]])
                (key,) = cr.fetchone()
            shared = self.env["rbm.contract"].browse(self.ids[2:4])
            self.assertEqual(
                key,
                self.env["rbm.billing.run"]._bill_job_identity_key(shared, TODAY) + ":follow-up",
            )
        _logger.info("overlapping jobs: %s follow-up jobs, %s retried", follow_ups, len(retried))

    def test_job_meeting_a_lock_is_retried_and_later_bills(self):
        """Another transaction holds a customer's row: the job cannot create
        the invoice (lock timeout), rolls back and is postponed by queue_job
        (RetryableJobError, retry 1); performed again once the row is free, it
        bills both contracts' periods once."""
        (uuid,) = self._enqueue_chunks([(0, 1)])
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
        ((_uuid, state, retry, result),) = self._jobs()
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
        ((_uuid, state, retry, _result),) = self._jobs()
        self.assertEqual((state, retry), ("done", 2))

    def test_contract_held_elsewhere_is_billed_by_a_follow_up_job(self):
        """Another transaction holds contract 1's row: the job bills contract 0,
        skips contract 1 and enqueues it once more, as a follow-up job a
        minute later under the follow-up key of contract 1; performed once
        the row is free, it bills contract 1. Each period once."""
        (uuid,) = self._enqueue_chunks([(0, 1)])
        outcomes = self._perform_while_held(uuid, "rbm_contract", self.ids[1])
        self.assertEqual({kind for kind, _detail in outcomes}, {"ok"}, outcomes)
        self.assertEqual({c for c, _p, _n in self._billed()}, {self.ids[0]})
        (first, follow_up) = self._jobs()
        self.assertEqual(first[1], "done")
        self.assertEqual(follow_up[1], "pending")
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT identity_key, eta - date_created FROM queue_job WHERE uuid = %s",
                [follow_up[0]],
            )
            key, delay = cr.fetchone()
        held = self.env["rbm.contract"].browse(self.ids[1])
        self.assertEqual(
            key, self.env["rbm.billing.run"]._bill_job_identity_key(held, TODAY) + ":follow-up"
        )
        self.assertEqual(delay, timedelta(minutes=1), "the follow-up waits a minute")

        self._run_pending(outcomes)
        self._assert_all_done(outcomes)
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
