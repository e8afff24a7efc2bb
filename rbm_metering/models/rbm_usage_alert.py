import logging
from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

from ..engine import rating

_logger = logging.getLogger(__name__)

THRESHOLDS = (80, 100)
CURSOR_PARAM = "rbm_metering.usage_alert_cursor"


class RbmUsageAlert(models.Model):
    """One email per (contract line, period, threshold): the log of usage
    alerts, whose unique constraint makes a second cron run (or two at the
    same time) send nothing more."""

    _name = "rbm.usage.alert"
    _description = "Usage Alert"
    _order = "id desc"
    _check_company_auto = True

    contract_id = fields.Many2one(
        "rbm.contract", required=True, ondelete="cascade", index=True, readonly=True
    )
    contract_line_id = fields.Many2one(
        "rbm.contract.line", required=True, ondelete="cascade", readonly=True
    )
    metric_id = fields.Many2one("rbm.metric", required=True, ondelete="cascade", readonly=True)
    company_id = fields.Many2one(related="contract_id.company_id", store=True)
    partner_id = fields.Many2one(related="contract_id.partner_id")
    currency_id = fields.Many2one(related="contract_id.currency_id")
    period_start = fields.Date(required=True, readonly=True)
    period_end = fields.Date(readonly=True)
    threshold = fields.Integer(required=True, readonly=True, help="Percent of the allowance.")
    quantity = fields.Float(digits=(20, 6), readonly=True)
    allowance = fields.Float(digits=(20, 6), readonly=True)
    used_percent = fields.Integer(readonly=True)
    state = fields.Selection(
        [("sent", "Sent"), ("superseded", "Superseded")],
        default="sent",
        readonly=True,
        help="Superseded: a higher threshold was crossed at the same time; only that one "
        "was emailed.",
    )

    _sql_constraints = [
        (
            "line_period_threshold_uniq",
            "UNIQUE(contract_line_id, period_start, threshold)",
            "This usage alert was already sent.",
        ),
    ]

    # ------------------------------------------------------------
    # BUSINESS METHODS
    # ------------------------------------------------------------

    @api.model
    def _get_alert_contracts_query(self, after, limit):
        """Running contracts after id ``after`` with a usage line that has an
        allowance and events not invoiced yet: the ones worth checking."""
        return SQL(
            """
            SELECT DISTINCT c.id
              FROM rbm_contract c
              JOIN rbm_contract_line l ON l.contract_id = c.id
             WHERE c.state IN ('trial', 'active', 'suspended')
               AND c.id > %s
               AND l.metric_id IS NOT NULL
               AND l.allowance > 0
               AND EXISTS (SELECT 1 FROM rbm_usage u
                            WHERE u.contract_id = c.id AND u.metric_id = l.metric_id
                              AND u.state = 'accepted')
             ORDER BY c.id
             LIMIT %s
            """,
            after,
            limit,
        )

    @api.model
    def _cron_check_usage_alerts(self, batch_size=500):
        """Email the customers whose usage crossed 80% or 100% of an allowance
        in the current period. One batch of contracts per call (keyset on the
        contract id, kept in a system parameter); re-triggers itself while
        contracts remain."""
        params_sudo = self.env["ir.config_parameter"].sudo()
        after = int(params_sudo.get_param(CURSOR_PARAM, "0") or 0)
        self.env["rbm.contract"].flush_model(["state"])
        self.env["rbm.contract.line"].flush_model(["contract_id", "metric_id", "allowance"])
        self.env.cr.execute(self._get_alert_contracts_query(after, batch_size))
        ids = [row[0] for row in self.env.cr.fetchall()]
        contracts = self.env["rbm.contract"].browse(ids)
        alerts = self._check_usage_alerts(contracts)
        more = len(ids) == batch_size
        params_sudo.set_param(CURSOR_PARAM, str(ids[-1]) if more else "0")
        self.env["ir.cron"]._notify_progress(done=len(ids), remaining=int(more))
        if more:
            self.env.ref("rbm_metering.ir_cron_rbm_usage_alerts")._trigger()
        return alerts

    @api.model
    def _check_usage_alerts(self, contracts):
        """Create and email the alerts due for ``contracts``: their current
        period's usage aggregated in one query (the statement's aggregation),
        the alerts inserted with ON CONFLICT DO NOTHING."""
        items = []
        for contract in contracts:
            window = contract._get_statement_window()
            low = contract._get_usage_day_start(window["start"])
            high = contract._get_usage_day_start(window["end"] + timedelta(days=1))
            for line in contract._get_usage_lines(window):
                if line.allowance > 0:
                    items.append(
                        {
                            "contract": contract,
                            "line": line,
                            "metric": line.metric_id,
                            "window": window,
                            "low": low,
                            "high": high,
                            "start": low,
                        }
                    )
        self.env["rbm.contract"]._aggregate_usage(items, statement=True)
        rows = []
        for item in items:
            allowance = item["line"]._get_usage_allowance(item["window"])
            if not allowance:
                continue
            used = item["quantity"] * 100 / allowance
            for threshold in THRESHOLDS:
                if used >= threshold:
                    rows.append(
                        SQL(
                            "(%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                            item["contract"].id,
                            item["line"].id,
                            item["metric"].id,
                            item["contract"].company_id.id,
                            item["window"]["start"],
                            item["window"]["end"],
                            threshold,
                            float(item["quantity"]),
                            float(allowance),
                        )
                    )
        if not rows:
            return self.browse()
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO rbm_usage_alert (
                    contract_id, contract_line_id, metric_id, company_id, period_start,
                    period_end, threshold, quantity, allowance, used_percent, state,
                    create_uid, create_date, write_uid, write_date)
                SELECT v.c, v.l, v.m, v.co, v.ps, v.pe, v.t, v.q, v.a,
                       FLOOR(v.q * 100 / v.a), 'sent',
                       %s, now() AT TIME ZONE 'UTC', %s, now() AT TIME ZONE 'UTC'
                  FROM (VALUES %s) AS v(c, l, m, co, ps, pe, t, q, a)
                ON CONFLICT (contract_line_id, period_start, threshold) DO NOTHING
                RETURNING id
                """,
                self.env.uid,
                self.env.uid,
                SQL(", ").join(rows),
            )
        )
        alerts = self.browse([row[0] for row in self.env.cr.fetchall()])
        # crossing 80% and 100% at once: one email, for 100%
        by_line = alerts.grouped(lambda alert: (alert.contract_line_id, alert.period_start))
        superseded = self.browse()
        for group in by_line.values():
            superseded |= group.sorted("threshold")[:-1]
        superseded.write({"state": "superseded"})
        (alerts - superseded)._send()
        return alerts

    def _send(self):
        template = self.env.ref("rbm_metering.mail_template_usage_alert", raise_if_not_found=False)
        if not template:
            return
        for alert in self:
            template.send_mail(alert.id, email_layout_xmlid="mail.mail_notification_light")
        _logger.info("Usage alerts sent: %s", len(self))

    def _get_portal_usage_url(self):
        self.ensure_one()
        return (
            f"{self.contract_id.get_base_url()}/my/subscriptions/{self.contract_id.id}/usage"
            f"?period={self.period_start.isoformat()}"
        )

    def _get_quantity_text(self, value):
        self.ensure_one()
        lang = self.partner_id.lang or self.env.lang or "en_US"
        return rating.format_usage(value, self.metric_id.unit_label or "", lang=lang, max_digits=3)
