"""Jobs performed by real workers: each worker with its own database
connection and transaction, on committed data, as queue_job's runner does it
(the job acquired and marked started, performed, done or postponed)."""

import threading
from unittest.mock import patch

from freezegun import freeze_time

from odoo import SUPERUSER_ID, api
from odoo.api import Transaction
from odoo.modules.registry import Registry
from odoo.tests import TransactionCase
from odoo.tools import mute_logger

from odoo.addons.queue_job.controllers.main import RunJobController
from odoo.addons.queue_job.job import Job

QUIET_LOGGERS = (
    "odoo.sql_db",
    "odoo.addons.queue_job.controllers.main",
    "odoo.addons.rbm_recurring.models.rbm_contract",
    "odoo.addons.rbm_recurring.models.rbm_price_adjustment",
    "odoo.addons.rbm_recurring.models.rbm_provisioning",
    "odoo.addons.rbm_dunning.models.rbm_card_attempt",
    "odoo.addons.rbm_dunning.models.rbm_collection_log",
)


class JobWorkersCase(TransactionCase):
    """Committed fixtures, jobs enqueued in a committed transaction, and
    workers performing them in threads; every job created by the test is
    deleted after it."""

    today = None  # the day the workers run on (frozen)
    # lock_timeout of the workers' transactions ('300ms'), None: no timeout
    lock_timeout = None

    def setUp(self):
        super().setUp()
        with self.registry.cursor() as cr:
            cr.execute("SELECT COALESCE(max(id), 0) FROM queue_job")
            self.last_job_id = cr.fetchone()[0]

    def _delete_jobs(self):
        with self.registry.cursor() as cr:
            cr.execute("DELETE FROM queue_job WHERE id > %s", [self.last_job_id])

    def _committed(self, func):
        """``func(env)`` in its own committed transaction, as of ``today``."""
        with freeze_time(self.today), self.registry.cursor() as cr:
            return func(api.Environment(cr, SUPERUSER_ID, {}))

    def _enqueue(self, func):
        """Enqueue jobs with ``func(env)`` in a committed transaction and hand
        the new ones to the workers (state enqueued, as the runner does);
        their uuids, in creation order."""

        def enqueue(env):
            func(env)
            env.flush_all()
            env.cr.execute(
                "SELECT uuid FROM queue_job WHERE id > %s ORDER BY id", [self.last_job_id]
            )
            uuids = [row[0] for row in env.cr.fetchall()]
            for uuid in uuids:
                self._set_enqueued(env, uuid)
            return uuids

        return self._committed(enqueue)

    def _set_enqueued(self, env, uuid):
        job = Job.load(env, uuid)
        job.set_enqueued()
        job.store()

    def _jobs(self):
        """(uuid, state, retry, result) of the test's jobs, in creation order."""
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT uuid, state, retry, result FROM queue_job WHERE id > %s ORDER BY id",
                [self.last_job_id],
            )
            return cr.fetchall()

    def _channels(self):
        """The channels of the test's jobs."""
        with self.registry.cursor() as cr:
            cr.execute("SELECT DISTINCT channel FROM queue_job WHERE id > %s", [self.last_job_id])
            return {row[0] for row in cr.fetchall()}

    def _perform(self, uuid, outcomes, barrier=None, before=None):
        """A runner's worker: acquire the job (started, committed), perform it,
        commit. ``before(cr)`` runs in the job's transaction first."""
        try:
            with self.registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                job = RunJobController._acquire_job(env, uuid)
                if self.lock_timeout:
                    cr.execute("SELECT set_config('lock_timeout', %s, true)", [self.lock_timeout])
                if barrier:
                    barrier.wait(timeout=20)
                if before:
                    before(cr)
                RunJobController._runjob(env, job)
            outcomes.append(("ok", uuid))
        except Exception as error:  # noqa: BLE001 - reported by the assertions
            outcomes.append(("error", f"{type(error).__name__}: {error}"))

    def _run_threads(self, threads):
        registry_cursor = Registry.cursor

        def cursor(registry, *args, **kwargs):
            # the test runner holds the registry lock: hand the registry over
            # to the workers' cursors (queue_job opens one to postpone a job,
            # or to perform a job allowed to commit) rather than letting
            # Environment look it up
            cr = registry_cursor(registry, *args, **kwargs)
            cr.transaction = Transaction(registry)
            if self.lock_timeout:
                # the job's transaction, also when the job performs in a
                # cursor of its own (a job function allowed to commit)
                cr.execute("SELECT set_config('lock_timeout', %s, true)", [self.lock_timeout])
            return cr

        with (
            patch.object(Registry, "cursor", cursor),
            freeze_time(self.today),
            mute_logger(*QUIET_LOGGERS),
        ):
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
        self.assertFalse(any(thread.is_alive() for thread in threads), "a worker hung")

    def _run_concurrently(self, uuids, before=None):
        """Perform the jobs ``uuids`` at the same moment, one worker each."""
        barrier = threading.Barrier(len(uuids))
        outcomes = []
        self._run_threads(
            [
                threading.Thread(target=self._perform, args=(uuid, outcomes, barrier, before))
                for uuid in uuids
            ]
        )
        return outcomes

    def _run_pending(self, outcomes, rounds=5):
        """Jobs postponed (a retry) or enqueued by a job (rows held by another
        transaction) are performed as the runner would once their time comes,
        until none is left."""
        for _round in range(rounds):
            with self.registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                pending = [uuid for uuid, state, _r, _s in self._jobs() if state == "pending"]
                for uuid in pending:
                    self._set_enqueued(env, uuid)
            if not pending:
                return
            for uuid in pending:
                self._run_threads([threading.Thread(target=self._perform, args=(uuid, outcomes))])
        self.fail(f"jobs still pending after {rounds} rounds")

    def _assert_all_done(self, outcomes):
        self.assertEqual({kind for kind, _detail in outcomes}, {"ok"}, outcomes)
        jobs = self._jobs()
        self.assertEqual({state for _u, state, _r, _s in jobs}, {"done"}, jobs)
        return jobs

    def _perform_while_held(self, uuid, table, row_id):
        """Perform job ``uuid`` once while another transaction holds the row
        ``row_id`` of ``table`` (``FOR UPDATE``), the workers' transactions
        with a lock timeout: the job meets a lock it cannot wait for. The
        holder lets go after. Returns the outcomes."""
        self.lock_timeout = "300ms"
        outcomes = []
        try:
            with self.registry.cursor() as holder:
                holder.execute(
                    f"SELECT id FROM {table} WHERE id = %s FOR UPDATE",  # noqa: S608
                    [row_id],
                )
                self._run_threads([threading.Thread(target=self._perform, args=(uuid, outcomes))])
                holder.rollback()
        finally:
            self.lock_timeout = None
        return outcomes
