"""Card charges as jobs of OCA queue_job.

The cron splits the invoices whose card is due (just posted, or a failed
charge whose retry day came) into chunks and enqueues one job per chunk and
origin (``_card_job``) on the channel ``root.rbm.card``. A job charges its
invoices one at a time: it locks the invoice (``SKIP LOCKED``: an invoice
another job holds is enqueued again once, a minute later), checks that the
charge is still due, then charges as the inline run does — the attempt
(unique per invoice and attempt number) and its transaction committed before
the provider is called, the answer committed after it — so that no attempt
is charged twice, even with jobs running at once or a job performed again
after a crash."""

import logging

from odoo import api, fields, models
from odoo.tools import SQL

from odoo.addons.rbm_recurring.tools import auto_commit_allowed

from .rbm_job_run import retry_on_transient_error

_logger = logging.getLogger(__name__)

CARD_CHANNEL = "root.rbm.card"


class RbmCardAttempt(models.Model):
    _inherit = "rbm.card.attempt"

    @api.model
    def _cron_card_retries(self, batch_size=50):
        """Card charges on queue_job: one job per chunk of ``batch_size``
        invoices due for a first charge or a retry. Returns
        ``{"invoices": n, "enqueued": n, "queued": n}``."""
        today = fields.Date.context_today(self)
        Move = self.env["account.move"]
        firsts = Move.search([("rbm_card_charge_due", "=", True)], order="id")
        retries = (
            self.search(
                [("state", "=", "failed"), ("next_retry_date", "<=", today)],
                order="next_retry_date, id",
            ).move_id
            - firsts
        )
        Jobs = self.env["rbm.job.run"]
        enqueued = queued = 0
        for moves, origin in ((firsts, "post"), (retries, "retry")):
            done, waiting = Jobs._enqueue(
                self,
                "_card_job",
                Jobs._split_chunks(moves, batch_size),
                today,
                lambda index, count, chunk, origin=origin: self.env._(
                    "Card charges of %(day)s (%(origin)s): chunk %(chunk)s of %(chunks)s "
                    "(%(count)s invoices)",
                    day=today.isoformat(),
                    origin=origin,
                    chunk=index,
                    chunks=count,
                    count=len(chunk),
                ),
                args=(origin,),
            )
            enqueued += done
            queued += waiting
        count = len(firsts) + len(retries)
        self.env["ir.cron"]._notify_progress(done=count, remaining=0)
        _logger.info(
            "Card charges: %s invoices due, %s jobs enqueued on %s, %s already queued",
            count,
            enqueued,
            CARD_CHANNEL,
            queued,
        )
        return {"invoices": count, "enqueued": enqueued, "queued": queued}

    @api.model
    def _get_card_due_condition(self, origin, today):
        """The invoices (``account_move`` rows) still due for a charge of
        ``origin``."""
        if origin == "post":
            return SQL("rbm_card_charge_due")
        return SQL(
            """EXISTS (SELECT 1 FROM rbm_card_attempt a
                        WHERE a.move_id = account_move.id AND a.state = 'failed'
                          AND a.next_retry_date <= %s)""",
            today,
        )

    @api.model
    def _card_job(self, moves, today, origin, follow_up=False):
        """Job: charge the cards of ``moves`` (``origin``: post or retry),
        each invoice locked and checked still due first. Returns a summary."""
        Jobs = self.env["rbm.job.run"]
        commit = auto_commit_allowed()
        self.env["rbm.card.attempt"].flush_model()
        condition = self._get_card_due_condition(origin, today)
        held = moves.browse()
        charged = 0
        for move in moves:
            with retry_on_transient_error(self.env, self.env._("Card charge")):
                locked = Jobs._lock_skip_locked(move, condition)
                if not locked:
                    self.env.cr.execute(
                        SQL("SELECT 1 FROM account_move WHERE id = %s AND %s", move.id, condition)
                    )
                    if self.env.cr.fetchone():
                        held |= move  # due, but another transaction holds it
                    continue
                if origin == "post":
                    charged += self._charge_card_batch(
                        move, move.browse(), today, raise_transient=True
                    )
                else:
                    charged += self._charge_card_batch(
                        move.browse(), move, today, raise_transient=True
                    )
            if commit:
                self.env.cr.commit()  # pylint: disable=invalid-commit
        if held and not follow_up:
            Jobs._enqueue_follow_up(
                self,
                "_card_job",
                held,
                today,
                lambda chunk: self.env._(
                    "Card charges of %(day)s: %(count)s invoices held by another transaction",
                    day=today.isoformat(),
                    count=len(chunk),
                ),
                args=(origin,),
            )
        return self.env._(
            "%(count)s invoices: %(charged)s charged; %(held)s held by another transaction",
            count=len(moves),
            charged=charged,
            held=len(held),
        )
