import logging

from dateutil.relativedelta import relativedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

# aggregations whose figures a daily total keeps (count_unique needs each
# distinct value, time_weighted_sum each event's instant: kept one by one)
ROLLUP_AGGREGATIONS = ("sum", "count", "max", "last")


class RbmUsageDaily(models.Model):
    """Daily totals of usage events per contract, metric, customer's local
    day and invoice line, for the events deleted after the retention period of
    their company (``res.company.rbm_usage_retention_months``). A row counts
    exactly the events that were deleted into it: the usage statements add the
    rows to the events still kept, so that a period shows the same figures
    before and after its events are deleted."""

    _name = "rbm.usage.daily"
    _description = "Daily Usage Total"
    _order = "day desc, id desc"
    _rec_name = "day"
    _check_company_auto = True

    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)
    contract_id = fields.Many2one(
        "rbm.contract", required=True, readonly=True, ondelete="restrict", check_company=True
    )
    partner_id = fields.Many2one(related="contract_id.partner_id")
    metric_id = fields.Many2one(
        "rbm.metric", required=True, readonly=True, ondelete="restrict", check_company=True
    )
    unit_label = fields.Char(related="metric_id.unit_label")
    day = fields.Date(
        required=True, readonly=True, help="The customer's local day the events were counted on."
    )
    quantity = fields.Float(
        digits=(20, 6), readonly=True, help="Sum of the quantities of the day's events."
    )
    quantity_max = fields.Float(
        string="Largest Quantity", digits=(20, 6), readonly=True, aggregator="max"
    )
    quantity_last = fields.Float(
        string="Last Quantity",
        digits=(20, 6),
        readonly=True,
        aggregator=False,
        help="The quantity of the day's latest event (by its timestamp).",
    )
    last_timestamp = fields.Datetime(string="Latest Event", readonly=True)
    last_event_id = fields.Integer(readonly=True, aggregator=False)
    event_count = fields.Integer(string="Events", readonly=True)
    invoice_line_id = fields.Many2one(
        "account.move.line", required=True, readonly=True, ondelete="restrict", index=True
    )
    invoice_id = fields.Many2one(related="invoice_line_id.move_id", string="Invoice")

    _sql_constraints = [
        (
            "day_uniq",
            "UNIQUE(contract_id, metric_id, day, invoice_line_id)",
            "A contract has one daily total per metric, day and invoice line.",
        ),
    ]

    def init(self):
        super().init()
        # the idempotency keys of the deleted events (an MD5 of the key: 16
        # bytes whatever its length), so that an event sent again after its
        # deletion is still a duplicate
        self.env.cr.execute(
            """
            CREATE TABLE IF NOT EXISTS rbm_usage_key_archive (
                company_id integer NOT NULL REFERENCES res_company(id) ON DELETE CASCADE,
                key_hash uuid NOT NULL,
                PRIMARY KEY (company_id, key_hash)
            )
            """
        )
        # one row per company with a retention policy, updated by each purge
        # batch and read FOR SHARE by each ingestion (see _lock_purge)
        self.env.cr.execute(
            """
            CREATE TABLE IF NOT EXISTS rbm_usage_purge_lock (
                company_id integer PRIMARY KEY REFERENCES res_company(id) ON DELETE CASCADE,
                purged_at timestamp
            )
            """
        )

    @api.model
    def _lock_purge(self, company, purge=False):
        """Order the purge batches of ``company`` and the ingestion of its
        events, on its row of ``rbm_usage_purge_lock``: a purge batch updates
        it, an ingestion reads it FOR SHARE before inserting. An ingestion then
        waits for a purge batch in progress, and, when one committed after its
        transaction's snapshot (Odoo's transactions are REPEATABLE READ),
        fails with a serialization error: the request is replayed (as Odoo
        replays every request) on a new snapshot, which sees the archived keys
        of the events the batch deleted, so an event re-sent during a purge is
        still a duplicate. A purge batch waits for the ingestions in progress."""
        if purge:
            self.env.cr.execute(
                SQL(
                    """
                    INSERT INTO rbm_usage_purge_lock (company_id, purged_at)
                    VALUES (%s, now() AT TIME ZONE 'UTC')
                    ON CONFLICT (company_id) DO UPDATE SET purged_at = EXCLUDED.purged_at
                    """,
                    company.id,
                )
            )
        else:
            self.env.cr.execute(
                SQL(
                    "SELECT 1 FROM rbm_usage_purge_lock WHERE company_id = %s FOR SHARE",
                    company.id,
                )
            )

    # ------------------------------------------------------------
    # RETENTION
    # ------------------------------------------------------------

    @api.model
    def _get_retention_cutoff(self, company, today=None):
        """Last invoice date whose events ``company`` no longer keeps one by
        one, or ``None`` when it keeps them forever."""
        months = company.rbm_usage_retention_months
        if months <= 0:
            return None
        today = today or fields.Date.context_today(self.with_company(company))
        return today - relativedelta(months=months)

    @api.model
    def _rollup_usage(self, company, cutoff, limit=10000, contract_ids=None):
        """Sum into daily totals and delete at most ``limit`` events of
        ``company`` (of the contracts ``contract_ids`` only, when given)
        invoiced on posted invoices dated ``cutoff`` or before, and keep their
        idempotency keys; returns the number of events deleted.

        One statement: the events are deleted and their totals added to the
        daily rows (INSERT ... ON CONFLICT DO UPDATE) together, so that a crash
        leaves both or neither, and an event is added once, when it is
        deleted. Kept one by one whatever their age: events not invoiced,
        events of metrics whose figures a daily total loses (unique count,
        time-weighted) and of percentage prices (their per-event rules)."""
        self.env["rbm.usage"].flush_model()
        self.env["account.move.line"].flush_model(["parent_state", "date"])
        self._lock_purge(company, purge=True)
        self.env.cr.execute(
            SQL(
                """
                WITH lines AS MATERIALIZED (
                    -- the usage lines of posted invoices old enough, whose
                    -- events are read on their invoice line index (a line
                    -- whose events are gone costs one index probe)
                    SELECT l.id
                      FROM account_move_line l
                      JOIN rbm_contract_line cl ON cl.id = l.rbm_contract_line_id
                      LEFT JOIN rbm_usage_price_filter pf ON pf.id = l.rbm_price_filter_id
                     WHERE l.company_id = %(company)s
                       AND l.parent_state = 'posted'
                       AND l.date <= %(cutoff)s
                       AND cl.metric_id IS NOT NULL
                       AND COALESCE(pf.price_model, cl.price_model, '') != 'percentage'
                ), batch AS (
                    SELECT u.id
                      FROM lines
                      JOIN rbm_usage u ON u.invoice_line_id = lines.id
                      JOIN rbm_metric m ON m.id = u.metric_id
                     WHERE u.company_id = %(company)s
                       AND (%(contracts)s::int[] IS NULL OR u.contract_id = ANY(%(contracts)s))
                       AND u.state = 'invoiced'
                       AND m.aggregation IN %(aggregations)s
                     LIMIT %(limit)s
                       FOR UPDATE OF u SKIP LOCKED
                ), gone AS (
                    DELETE FROM rbm_usage u USING batch b
                     WHERE u.id = b.id
                    RETURNING u.id, u.company_id, u.idempotency_key, u.contract_id,
                              u.metric_id, u.quantity, u.timestamp, u.effective_timestamp,
                              u.invoice_line_id
                ), archived AS (
                    INSERT INTO rbm_usage_key_archive (company_id, key_hash)
                    SELECT company_id, md5(idempotency_key)::uuid FROM gone
                    ON CONFLICT DO NOTHING
                ), zones AS MATERIALIZED (
                    SELECT name FROM pg_timezone_names
                ), events AS (
                    SELECT g.*,
                           (g.effective_timestamp AT TIME ZONE 'UTC'
                                AT TIME ZONE COALESCE(z.name, 'UTC'))::date AS day
                      FROM gone g
                      JOIN rbm_contract c ON c.id = g.contract_id
                      JOIN res_partner rp ON rp.id = c.partner_id
                      JOIN res_company co ON co.id = c.company_id
                      LEFT JOIN res_partner cp ON cp.id = co.partner_id
                      LEFT JOIN zones z
                        ON z.name = COALESCE(NULLIF(rp.tz, ''), NULLIF(cp.tz, ''), 'UTC')
                ), totals AS (
                    INSERT INTO rbm_usage_daily AS d (
                        company_id, contract_id, metric_id, invoice_line_id, day, quantity,
                        quantity_max, quantity_last, last_timestamp, last_event_id,
                        event_count, create_uid, create_date, write_uid, write_date)
                    SELECT company_id, contract_id, metric_id, invoice_line_id, day,
                           SUM(quantity), MAX(quantity),
                           (ARRAY_AGG(quantity ORDER BY timestamp DESC, id DESC))[1],
                           MAX(timestamp), (ARRAY_AGG(id ORDER BY timestamp DESC, id DESC))[1],
                           COUNT(*), %(uid)s, now() AT TIME ZONE 'UTC',
                           %(uid)s, now() AT TIME ZONE 'UTC'
                      FROM events
                     GROUP BY company_id, contract_id, metric_id, invoice_line_id, day
                    ON CONFLICT (contract_id, metric_id, day, invoice_line_id) DO UPDATE
                       SET quantity = d.quantity + EXCLUDED.quantity,
                           quantity_max = GREATEST(d.quantity_max, EXCLUDED.quantity_max),
                           quantity_last = CASE
                               WHEN (EXCLUDED.last_timestamp, EXCLUDED.last_event_id)
                                    > (d.last_timestamp, d.last_event_id)
                               THEN EXCLUDED.quantity_last ELSE d.quantity_last END,
                           last_event_id = CASE
                               WHEN (EXCLUDED.last_timestamp, EXCLUDED.last_event_id)
                                    > (d.last_timestamp, d.last_event_id)
                               THEN EXCLUDED.last_event_id ELSE d.last_event_id END,
                           last_timestamp = GREATEST(d.last_timestamp, EXCLUDED.last_timestamp),
                           event_count = d.event_count + EXCLUDED.event_count,
                           write_uid = EXCLUDED.write_uid, write_date = EXCLUDED.write_date
                    RETURNING 1
                )
                SELECT (SELECT COUNT(*) FROM gone), (SELECT COUNT(*) FROM totals)
                """,
                company=company.id,
                contracts=list(contract_ids) if contract_ids is not None else None,
                cutoff=cutoff,
                aggregations=ROLLUP_AGGREGATIONS,
                limit=limit,
                uid=self.env.uid,
            )
        )
        deleted, _rows = self.env.cr.fetchone()
        if deleted:
            self.env["rbm.usage"].invalidate_model()
            self.invalidate_model()
        return deleted

    @api.model
    def _cron_purge_usage(self, batch_size=10000):
        """Retention of the usage events: for each company with a policy,
        one batch of its events past it summed into daily totals and deleted
        (one transaction per call); re-triggers itself while events remain."""
        total, more = 0, False
        for company in (
            self.env["res.company"].sudo().search([("rbm_usage_retention_months", ">", 0)])
        ):
            cutoff = self._get_retention_cutoff(company)
            count = self.sudo()._rollup_usage(company, cutoff, batch_size)
            if count:
                _logger.info(
                    "Usage retention: %s events of %s deleted into daily totals",
                    count,
                    company.name,
                )
            total += count
            more = more or count == batch_size
        self.env["ir.cron"]._notify_progress(done=total, remaining=int(more))
        if more:
            self.env.ref("rbm_metering.ir_cron_rbm_usage_retention")._trigger()
        return total

    @api.model
    def _check_lines_not_purged(self, lines):
        """UserError naming the invoice when the usage events billed by
        ``lines`` were deleted into daily totals: the invoice can no longer
        give them back to the next one."""
        if not lines.ids:
            return
        self.flush_model(["invoice_line_id"])
        self.env.cr.execute(
            SQL(
                """
                SELECT l.move_id FROM rbm_usage_daily d
                  JOIN account_move_line l ON l.id = d.invoice_line_id
                 WHERE d.invoice_line_id = ANY(%s)
                 LIMIT 1
                """,
                lines.ids,
            )
        )
        row = self.env.cr.fetchone()
        if row:
            raise UserError(
                _(
                    "Invoice %(invoice)s cannot be reset to draft: the usage events it billed "
                    "were summed into daily totals and deleted after the retention period of "
                    "the company. Issue a credit note instead.",
                    invoice=self.env["account.move"].sudo().browse(row[0]).display_name,
                )
            )
