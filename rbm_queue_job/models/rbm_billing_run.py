"""The billing run as jobs of OCA queue_job.

With this addon installed the billing cron does not bill: it splits the
contracts due today into chunks of ``batch_size`` and enqueues one job per
chunk (``_bill_job``) on the channel ``root.rbm.billing``. queue_job's runner
performs the jobs on as many Odoo workers as the channel's capacity allows,
each job in its own transaction:

* it locks its contracts with SKIP LOCKED (``_lock``), so two jobs never bill
  the same contract, and bills those still due (``_bill``): each contract
  isolated, a contract failing for a business reason recorded on it
  (``billing_error``) without failing the job; the unique index on
  (contract, period start) stays the last guard;
* contracts locked by another transaction are enqueued again, once, a minute
  later; whatever is still due after that waits for the next run;
* a transient concurrency error (lock not available, serialization failure,
  deadlock) rolls the job back and raises ``RetryableJobError``: queue_job
  tries the job again later, with the back-off of its job function.

Each job's identity key is made of the day and the chunk's contracts, so a run
started twice (or while its jobs wait or run) enqueues nothing twice.
"""

import logging

from odoo import _, api, fields, models
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY

from odoo.addons.queue_job.exception import RetryableJobError

_logger = logging.getLogger(__name__)

BILLING_CHANNEL = "root.rbm.billing"


class RbmBillingRun(models.AbstractModel):
    _inherit = "rbm.billing.run"

    # ------------------------------------------------------------
    # CRONS
    # ------------------------------------------------------------

    @api.model
    def _cron_billing_run(self, batch_size=100):
        """Billing run on queue_job: one job per chunk of ``batch_size`` due
        contracts. Returns ``{"contracts": due, "enqueued": n, "queued": n}``
        (``queued``: chunks a job already waits for or runs)."""
        today = fields.Date.context_today(self)
        contracts = self.env["rbm.contract"].search(
            self._get_domain(today), order="next_invoice_date, id"
        )
        chunks = self.env["rbm.job.run"]._split_chunks(contracts, batch_size)
        enqueued, queued = self._enqueue_bill_jobs(chunks, today)
        self.env["ir.cron"]._notify_progress(done=len(contracts), remaining=0)
        _logger.info(
            "Billing run: %s contracts due, %s jobs enqueued on %s, %s already queued",
            len(contracts),
            enqueued,
            BILLING_CHANNEL,
            queued,
        )
        return {"contracts": contracts, "enqueued": enqueued, "queued": queued}

    # ------------------------------------------------------------
    # JOBS
    # ------------------------------------------------------------

    @api.model
    def _bill_job_identity_key(self, contracts, today):
        """One key per (contracts, day): the same chunk on the same day is one
        job, however often the run is started."""
        return self.env["rbm.job.run"]._identity_key(self, "_bill_job", today, contracts)

    @api.model
    def _enqueue_bill_jobs(self, chunks, today):
        """Enqueue a ``_bill_job`` per chunk of contracts, except the chunks
        a job already waits for or runs. Returns ``(enqueued, queued)``."""
        return self.env["rbm.job.run"]._enqueue(
            self,
            "_bill_job",
            chunks,
            today,
            lambda index, count, chunk: self.env._(
                "Billing run of %(day)s: chunk %(chunk)s of %(chunks)s (%(count)s contracts)",
                day=today.isoformat(),
                chunk=index,
                chunks=count,
                count=len(chunk),
            ),
        )

    @api.model
    def _bill_job(self, contracts, today, follow_up=False):
        """Job: bill ``contracts`` for ``today``. Contracts another transaction
        holds are enqueued again once (``follow_up``); a transient concurrency
        error makes queue_job retry the whole job. Returns a summary."""
        try:
            locked = self._lock(contracts)
            # another job or the button may have billed them since the run
            due = locked.filtered_domain(self._get_domain(today))
            result = self._bill(due, today)
        except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY as error:
            raise RetryableJobError(
                _("Billing postponed by a concurrent transaction: %(error)s", error=error)
            ) from error
        held = (contracts - locked).exists()
        if held and not follow_up:
            self.env["rbm.job.run"]._enqueue_follow_up(
                self,
                "_bill_job",
                held,
                today,
                lambda chunk: self.env._(
                    "Billing run of %(day)s: %(count)s contracts held by another transaction",
                    day=today.isoformat(),
                    count=len(chunk),
                ),
            )
        _logger.info(
            "Billing job: %s contracts, %s due, %s invoices, %s failed, %s held elsewhere",
            len(contracts),
            len(due),
            len(result["moves"]),
            len(result["failed"]),
            len(held),
        )
        return _(
            "%(due)s contracts due: %(invoices)s invoices, %(failed)s failed; "
            "%(held)s held by another transaction",
            due=len(due),
            invoices=len(result["moves"]),
            failed=len(result["failed"]),
            held=len(held),
        )
