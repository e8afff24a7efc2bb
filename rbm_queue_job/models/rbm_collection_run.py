"""The collection run as jobs of OCA queue_job.

The cron settles the day's late fees and reactivations (set-based, inline),
then splits the installments with steps due today into chunks of
``batch_size`` and enqueues one job per chunk (``_collection_job``) on the
channel ``root.rbm.collection``. A job reads the steps still due on its
installments and performs them as the inline run does: each step reserved as
a row of ``rbm.collection.log`` (unique per step and installment, inserted
with ON CONFLICT DO NOTHING), so two jobs on the same installment perform each
step once; card steps are performed after the reservation is committed."""

import logging

from odoo import api, fields, models

from odoo.addons.rbm_recurring.tools import auto_commit_allowed

from .rbm_job_run import retry_on_transient_error

_logger = logging.getLogger(__name__)

COLLECTION_CHANNEL = "root.rbm.collection"


class RbmCollectionRun(models.AbstractModel):
    _inherit = "rbm.collection.run"

    @api.model
    def _cron_collection_run(self, batch_size=500):
        """Collection run on queue_job: late fees and reactivations, then one
        job per chunk of ``batch_size`` installments with steps due. Returns
        ``{"installments": n, "enqueued": n, "queued": n}``."""
        today = fields.Date.context_today(self)
        run = self.sudo()
        run.env["rbm.late.fee"]._process_paid_installments(today)
        run.env["account.move"]._rbm_collection_reactivate_settled(today)
        work, _total = run._get_due_work(today, limit=None)
        lines = run.env["account.move.line"].browse(dict.fromkeys(line for line, _s in work))
        Jobs = run.env["rbm.job.run"]
        enqueued, queued = Jobs._enqueue(
            run,
            "_collection_job",
            Jobs._split_chunks(lines, batch_size),
            today,
            lambda index, count, chunk: self.env._(
                "Collection run of %(day)s: chunk %(chunk)s of %(chunks)s (%(count)s installments)",
                day=today.isoformat(),
                chunk=index,
                chunks=count,
                count=len(chunk),
            ),
        )
        self.env["ir.cron"]._notify_progress(done=len(lines), remaining=0)
        _logger.info(
            "Collection run: %s installments with steps due, %s jobs enqueued on %s, "
            "%s already queued",
            len(lines),
            enqueued,
            COLLECTION_CHANNEL,
            queued,
        )
        return {"installments": len(lines), "enqueued": enqueued, "queued": queued}

    @api.model
    def _collection_job(self, lines, today, follow_up=False):
        """Job: perform the steps due on ``today`` on the installments
        ``lines`` and not performed yet. Returns a summary."""
        run = self.sudo()
        commit = auto_commit_allowed()
        with retry_on_transient_error(self.env, self.env._("Collection")):
            work, _total = run._get_due_work(today, limit=None, line_ids=lines.ids)
            cards = run._process_batch(today, work) if work else run.env["rbm.collection.log"]
            if commit:
                # the card steps' reservations are durable before any charge
                run.env.cr.commit()  # pylint: disable=invalid-commit
        run._execute_committed(cards, commit=commit)
        return self.env._(
            "%(installments)s installments: %(steps)s steps due, %(cards)s card charges",
            installments=len(lines),
            steps=len(work),
            cards=len(cards),
        )
