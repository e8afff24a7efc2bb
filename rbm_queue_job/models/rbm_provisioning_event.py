"""Provisioning deliveries as jobs of OCA queue_job.

The cron splits the events due for delivery into chunks and enqueues one job
per chunk (``_deliver_job``) on the channel ``root.rbm.provisioning``. A job
delivers its events one at a time: each locked (``SKIP LOCKED``) and checked
still due in the transaction that records its outcome, committed before the
next, so that two jobs never send the same event and a job performed again
never sends an event already answered. An event another transaction holds is
enqueued again once, a minute later; an endpoint that cannot be reached is
left alone for the rest of the job."""

import logging

from odoo import api, fields, models
from odoo.tools import SQL

from odoo.addons.rbm_recurring.tools import auto_commit_allowed

from .rbm_job_run import retry_on_transient_error

_logger = logging.getLogger(__name__)

PROVISIONING_CHANNEL = "root.rbm.provisioning"


class RbmProvisioningEvent(models.Model):
    _inherit = "rbm.provisioning.event"

    @api.model
    def _cron_deliver(self, batch_size=50):
        """Provisioning deliveries on queue_job: one job per chunk of
        ``batch_size`` due events. Returns ``{"events": n, "enqueued": n,
        "queued": n}``."""
        now = fields.Datetime.now()
        events = self.sudo().search(self._get_due_domain(now), order="next_try_at, id")
        Jobs = self.env["rbm.job.run"]
        today = fields.Date.context_today(self)
        enqueued, queued = Jobs._enqueue(
            self.sudo(),
            "_deliver_job",
            Jobs._split_chunks(events, batch_size),
            today,
            lambda index, count, chunk: self.env._(
                "Provisioning deliveries of %(day)s: chunk %(chunk)s of %(chunks)s "
                "(%(count)s events)",
                day=today.isoformat(),
                chunk=index,
                chunks=count,
                count=len(chunk),
            ),
        )
        self.env["ir.cron"]._notify_progress(done=len(events), remaining=0)
        _logger.info(
            "Provisioning deliveries: %s events due, %s jobs enqueued on %s, %s already queued",
            len(events),
            enqueued,
            PROVISIONING_CHANNEL,
            queued,
        )
        return {"events": len(events), "enqueued": enqueued, "queued": queued}

    @api.model
    def _get_deliverable_condition(self):
        """The events (``rbm_provisioning_event`` rows) due for delivery now."""
        return SQL(
            """state IN ('pending', 'failed') AND next_try_at <= %s
               AND EXISTS (SELECT 1 FROM rbm_provisioning_endpoint e
                            WHERE e.id = rbm_provisioning_event.endpoint_id AND e.active)""",
            fields.Datetime.now(),
        )

    @api.model
    def _deliver_job(self, events, today, follow_up=False):
        """Job: deliver the events of ``events`` still due. Returns a summary."""
        Jobs = self.env["rbm.job.run"]
        commit = auto_commit_allowed()
        self.env["rbm.provisioning.endpoint"].flush_model(["active"])
        held = events.browse()
        delivered, unreachable = 0, []
        for event in events.sudo():
            if event.endpoint_id.id in unreachable:
                continue
            with retry_on_transient_error(self.env, self.env._("Provisioning delivery")):
                locked = Jobs._lock_skip_locked(event, self._get_deliverable_condition())
                if not locked:
                    self.env.cr.execute(
                        SQL(
                            "SELECT 1 FROM rbm_provisioning_event WHERE id = %s AND %s",
                            event.id,
                            self._get_deliverable_condition(),
                        )
                    )
                    if self.env.cr.fetchone():
                        held |= event  # due, but another transaction holds it
                    continue
                if event._deliver() == "unreachable":
                    unreachable.append(event.endpoint_id.id)
                delivered += 1
            if commit:
                self.env.cr.commit()  # pylint: disable=invalid-commit
        if held and not follow_up:
            Jobs._enqueue_follow_up(
                self.sudo(),
                "_deliver_job",
                held,
                today,
                lambda chunk: self.env._(
                    "Provisioning deliveries of %(day)s: %(count)s events held by another "
                    "transaction",
                    day=today.isoformat(),
                    count=len(chunk),
                ),
            )
        return self.env._(
            "%(count)s events: %(sent)s sent; %(held)s held by another transaction",
            count=len(events),
            sent=delivered,
            held=len(held),
        )
