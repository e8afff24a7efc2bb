import threading
import time
from datetime import date

from freezegun import freeze_time
from psycopg2 import OperationalError

from odoo import SUPERUSER_ID, api
from odoo.api import Transaction
from odoo.service.model import MAX_TRIES_ON_CONCURRENCY_FAILURE, PG_CONCURRENCY_ERRORS_TO_RETRY
from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger

from .common import commit_contracts

TODAY = date(2026, 11, 2)


def _bill_with_retries(contracts, wait):
    """Lock and bill ``contracts`` in their own transaction; ``(invoices made,
    tries)``. Under REPEATABLE READ, locking a row another worker changed and
    committed meanwhile is a serialization failure: Odoo retries the request
    (button) or the next run picks the rows up (cron), as done here."""
    cr = contracts.env.cr
    for tries in range(1, MAX_TRIES_ON_CONCURRENCY_FAILURE + 1):
        try:
            moves = contracts.env["rbm.billing.run"]._bill(
                contracts.env["rbm.billing.run"]._lock(contracts, wait=wait), TODAY
            )["moves"]
            cr.flush()
            return len(moves), tries
        except OperationalError as error:
            if (
                error.pgcode not in PG_CONCURRENCY_ERRORS_TO_RETRY
                or tries == MAX_TRIES_ON_CONCURRENCY_FAILURE
            ):
                raise
            cr.rollback()
            contracts.env.invalidate_all()
    raise AssertionError("unreachable")


@tagged("post_install", "-at_install")
class TestConcurrentBilling(TransactionCase):
    """Two workers billing the same contracts at the same time, each with its
    own database connection and transaction (committed data, real locks)."""

    def setUp(self):
        super().setUp()
        self.ids = commit_contracts(self, 6, date(2026, 10, 1), "Concurrency")[0]

    def _run_threads(self, threads):
        with (
            freeze_time(TODAY),
            mute_logger("odoo.sql_db", "odoo.addons.rbm_recurring.models.rbm_contract"),
        ):
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
        self.assertFalse(any(thread.is_alive() for thread in threads), "a worker hung")

    def _run_workers(self, lock_modes):
        barrier = threading.Barrier(len(lock_modes))
        outcomes = []

        def worker(mode):
            try:
                with self.registry.cursor() as cr:
                    # the test runner holds the registry lock: hand the registry
                    # over rather than letting Environment look it up
                    cr.transaction = Transaction(self.registry)
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    contracts = env["rbm.contract"].browse(self.ids)
                    contracts.mapped("state")  # open the snapshot before the race
                    barrier.wait(timeout=20)
                    if mode == "none":
                        # no lock: the unique index is all that stops the loser
                        billed = len(
                            contracts.env["rbm.billing.run"]._bill(contracts, TODAY)["moves"]
                        )
                    else:
                        billed = _bill_with_retries(contracts, wait=mode == "wait")[0]
                    outcomes.append(("ok", billed))
            except Exception as error:  # noqa: BLE001 - the race's loser is expected to fail
                outcomes.append(("error", type(error).__name__))

        self._run_threads([threading.Thread(target=worker, args=(mode,)) for mode in lock_modes])
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT rbm_contract_id, rbm_period_start, count(*) FROM account_move "
                "WHERE rbm_contract_id IN %s GROUP BY 1, 2",
                [tuple(self.ids)],
            )
            rows = cr.fetchall()
        return outcomes, rows

    def _assert_billed_once(self, outcomes, rows):
        # October and November for each of the six contracts, each exactly once
        self.assertEqual(len(rows), 12, outcomes)
        self.assertEqual({count for _c, _p, count in rows}, {1}, outcomes)
        billed = sum(n for kind, n in outcomes if kind == "ok")
        self.assertEqual(billed, 12, outcomes)

    def test_two_cron_workers_skip_locked_contracts(self):
        self._assert_billed_once(*self._run_workers(["skip", "skip"]))

    def test_button_waiting_for_a_cron_worker(self):
        self._assert_billed_once(*self._run_workers(["skip", "wait"]))

    def test_unique_index_stops_workers_that_take_no_lock(self):
        outcomes, rows = self._run_workers(["none", "none"])
        self._assert_billed_once(outcomes, rows)

    def test_button_retries_after_a_cron_worker_billed_part_of_its_contracts(self):
        """The interleaving the random race only sometimes produces: the button
        locks the first contracts, then waits on a row a cron worker holds; the
        worker bills and commits; the button's lock fails (serialization) and its
        retry bills the rest. Every period is billed exactly once."""
        cron_ids, button_ids = self.ids[3:], self.ids
        cron_locked, button_blocked = threading.Event(), threading.Event()
        outcomes = []

        def cron_worker():
            with self.registry.cursor() as cr:
                cr.transaction = Transaction(self.registry)
                env = api.Environment(cr, SUPERUSER_ID, {})
                todo = env["rbm.billing.run"]._lock(env["rbm.contract"].browse(cron_ids))
                cron_locked.set()
                button_blocked.wait(timeout=20)
                outcomes.append(
                    ("cron", len(todo.env["rbm.billing.run"]._bill(todo, TODAY)["moves"]))
                )

        def button_worker():
            cron_locked.wait(timeout=20)
            with self.registry.cursor() as cr:
                cr.transaction = Transaction(self.registry)
                env = api.Environment(cr, SUPERUSER_ID, {})
                contracts = env["rbm.contract"].browse(button_ids)
                outcomes.append(("button", *_bill_with_retries(contracts, wait=True)))

        def watcher():
            # the button's backend waits on a row lock held by the cron worker
            deadline = time.monotonic() + 20
            with self.registry.cursor() as cr:
                while time.monotonic() < deadline:
                    cr.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND query LIKE %s",
                        ["%FROM rbm_contract WHERE id IN%FOR NO KEY UPDATE"],
                    )
                    if cr.fetchone()[0]:
                        break
                    cr.rollback()
                    time.sleep(0.05)
            button_blocked.set()

        self._run_threads(
            [threading.Thread(target=f) for f in (cron_worker, button_worker, watcher)]
        )
        outcomes.sort()
        # the cron worker billed its three contracts (two periods each); the
        # button failed once on the row the cron worker changed, then billed
        # the other three
        self.assertEqual(outcomes, [("button", 6, 2), ("cron", 6)])
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT count(*), count(DISTINCT (rbm_contract_id, rbm_period_start)) "
                "FROM account_move WHERE rbm_contract_id IN %s",
                [tuple(self.ids)],
            )
            self.assertEqual(cr.fetchone(), (12, 12))
