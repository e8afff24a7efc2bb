"""Usage rating as jobs of OCA queue_job.

The daily rating of the current period's usage (the usage alerts' run: each
contract's period-to-date usage aggregated and rated against its allowances)
is split into chunks of contracts and enqueued as one job per chunk
(``_rating_job``) on the channel ``root.rbm.rating``. The alerts are inserted
with ON CONFLICT DO NOTHING on their unique (line, period, threshold), so two
jobs rating the same contract send each alert once. The usage invoiced by the
billing run is rated inside the billing jobs (``root.rbm.billing``)."""

import logging

from odoo import api, fields, models

from .rbm_job_run import retry_on_transient_error

_logger = logging.getLogger(__name__)

RATING_CHANNEL = "root.rbm.rating"
# every contract worth rating, in one query
ALL_CONTRACTS = 2**31 - 1


class RbmUsageAlert(models.Model):
    _inherit = "rbm.usage.alert"

    @api.model
    def _cron_check_usage_alerts(self, batch_size=500):
        """Usage rating on queue_job: one job per chunk of ``batch_size``
        contracts with usage to rate. Returns ``{"contracts": n, "enqueued":
        n, "queued": n}``."""
        today = fields.Date.context_today(self)
        self.env["rbm.contract"].flush_model(["state"])
        self.env["rbm.contract.line"].flush_model(["contract_id", "metric_id", "allowance"])
        self.env.cr.execute(self._get_alert_contracts_query(0, ALL_CONTRACTS))
        contracts = self.env["rbm.contract"].browse([row[0] for row in self.env.cr.fetchall()])
        Jobs = self.env["rbm.job.run"]
        enqueued, queued = Jobs._enqueue(
            self,
            "_rating_job",
            Jobs._split_chunks(contracts, batch_size),
            today,
            lambda index, count, chunk: self.env._(
                "Usage rating of %(day)s: chunk %(chunk)s of %(chunks)s (%(count)s contracts)",
                day=today.isoformat(),
                chunk=index,
                chunks=count,
                count=len(chunk),
            ),
        )
        self.env["ir.cron"]._notify_progress(done=len(contracts), remaining=0)
        _logger.info(
            "Usage rating: %s contracts, %s jobs enqueued on %s, %s already queued",
            len(contracts),
            enqueued,
            RATING_CHANNEL,
            queued,
        )
        return {"contracts": len(contracts), "enqueued": enqueued, "queued": queued}

    @api.model
    def _rating_job(self, contracts, today, follow_up=False):
        """Job: rate the current period's usage of ``contracts`` and send the
        alerts crossed. Returns a summary."""
        with retry_on_transient_error(self.env, self.env._("Usage rating")):
            alerts = self._check_usage_alerts(contracts.exists())
        return self.env._(
            "%(count)s contracts rated: %(alerts)s alerts",
            count=len(contracts),
            alerts=len(alerts),
        )
