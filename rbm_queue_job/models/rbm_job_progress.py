"""A run's progress in the back office: its jobs counted by state.

A read-only view on queue_job's table: one row per run, that is per job
function and day (the first two parts of the RBM identity keys, see
``rbm_job_run``), with the jobs done, failed, pending (waiting, queued or
running) and the last change."""

from odoo import fields, models, tools

from .rbm_job_run import OPEN_JOB_STATES


class RbmJobProgress(models.Model):
    _name = "rbm.job.progress"
    _description = "Run Progress on Job Queue"
    _auto = False
    _order = "run_date desc, channel"

    channel = fields.Char(readonly=True)
    job_function = fields.Selection(
        [
            ("rbm.billing.run._bill_job", "Billing"),
            ("rbm.usage.alert._rating_job", "Usage rating"),
            ("rbm.collection.run._collection_job", "Collection"),
            ("rbm.card.attempt._card_job", "Card charges"),
            ("rbm.contract._price_adjustment_job", "Price adjustment"),
            ("rbm.provisioning.event._deliver_job", "Provisioning deliveries"),
        ],
        string="Run",
        readonly=True,
    )
    run_date = fields.Date(string="Day", readonly=True)
    total = fields.Integer(string="Jobs", readonly=True)
    done = fields.Integer(readonly=True)
    failed = fields.Integer(readonly=True)
    pending = fields.Integer(readonly=True, help="Jobs waiting, queued or running.")
    retried = fields.Integer(
        readonly=True, help="Jobs performed more than once (a transient error or a lock)."
    )
    last_change = fields.Datetime(readonly=True)

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            f"""
            CREATE VIEW {self._table} AS (
                SELECT min(id) AS id,
                       channel,
                       split_part(identity_key, ':', 1) AS job_function,
                       split_part(identity_key, ':', 2)::date AS run_date,
                       count(*) AS total,
                       count(*) FILTER (WHERE state = 'done') AS done,
                       count(*) FILTER (WHERE state IN ('failed', 'cancelled')) AS failed,
                       count(*) FILTER (WHERE state IN %(open)s) AS pending,
                       count(*) FILTER (WHERE retry > 1) AS retried,
                       max(COALESCE(date_done, date_started, date_created)) AS last_change
                  FROM queue_job
                 WHERE channel LIKE 'root.rbm.%%'
                   AND identity_key ~ '^rbm\\.[a-z_.]+:\\d{{4}}-\\d{{2}}-\\d{{2}}:'
              GROUP BY channel, split_part(identity_key, ':', 1),
                       split_part(identity_key, ':', 2)
            )
            """,  # noqa: S608 - the table name is the model's
            {"open": OPEN_JOB_STATES},
        )
