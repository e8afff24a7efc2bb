"""Price adjustment as jobs of OCA queue_job.

The cron splits the contracts whose adjustment action day has come into
chunks and enqueues one job per chunk (``_price_adjustment_job``) on the
channel ``root.rbm.price_adjustment``. A job locks its contracts (``SKIP
LOCKED``: contracts another transaction holds are enqueued again once, a
minute later), keeps those still due and adjusts them as the inline run does;
the unique index on (contract, anniversary) of ``rbm.price.adjustment``
stays the last guard against a second adjustment."""

import logging

from odoo import api, fields, models

from .rbm_job_run import retry_on_transient_error

_logger = logging.getLogger(__name__)

PRICE_ADJUSTMENT_CHANNEL = "root.rbm.price_adjustment"


class RbmContract(models.Model):
    _inherit = "rbm.contract"

    @api.model
    def _cron_price_adjustment(self, batch_size=100):
        """Price adjustment on queue_job: one job per chunk of ``batch_size``
        contracts due. Returns ``{"contracts": n, "enqueued": n, "queued": n}``."""
        today = fields.Date.context_today(self)
        contracts = self.search(
            self._get_price_adjustment_domain(today), order="adjustment_action_date, id"
        )
        Jobs = self.env["rbm.job.run"]
        enqueued, queued = Jobs._enqueue(
            self,
            "_price_adjustment_job",
            Jobs._split_chunks(contracts, batch_size),
            today,
            lambda index, count, chunk: self.env._(
                "Price adjustment of %(day)s: chunk %(chunk)s of %(chunks)s (%(count)s contracts)",
                day=today.isoformat(),
                chunk=index,
                chunks=count,
                count=len(chunk),
            ),
        )
        self.env["ir.cron"]._notify_progress(done=len(contracts), remaining=0)
        _logger.info(
            "Price adjustment run: %s contracts due, %s jobs enqueued on %s, %s already queued",
            len(contracts),
            enqueued,
            PRICE_ADJUSTMENT_CHANNEL,
            queued,
        )
        return {"contracts": len(contracts), "enqueued": enqueued, "queued": queued}

    @api.model
    def _price_adjustment_job(self, contracts, today, follow_up=False):
        """Job: adjust the prices of ``contracts`` still due on ``today``.
        Returns a summary."""
        Jobs = self.env["rbm.job.run"]
        with retry_on_transient_error(self.env, self.env._("Price adjustment")):
            locked = Jobs._lock_skip_locked(contracts)
            due = locked.filtered_domain(self._get_price_adjustment_domain(today))
            counts = due._run_price_adjustment(today)
        held = (contracts - locked).exists()
        if held and not follow_up:
            Jobs._enqueue_follow_up(
                self,
                "_price_adjustment_job",
                held,
                today,
                lambda chunk: self.env._(
                    "Price adjustment of %(day)s: %(count)s contracts held by another transaction",
                    day=today.isoformat(),
                    count=len(chunk),
                ),
            )
        return self.env._(
            "%(due)s contracts due: %(applied)s adjusted, %(notified)s notified, "
            "%(failed)s failed; %(held)s held by another transaction",
            due=len(due),
            applied=counts["applied"],
            notified=counts["notified"],
            failed=counts["failed"],
            held=len(held),
        )
