from datetime import timedelta

from odoo import api, fields, models

from odoo.addons.rbm_recurring.tools import check_staff_access


class RbmUsageStatement(models.TransientModel):
    """Usage statement (extrato de consumo) of a contract for one period, in
    the back office: the same figures as the portal page and the PDF."""

    _name = "rbm.usage.statement"
    _description = "Usage Statement"

    contract_id = fields.Many2one("rbm.contract", required=True, ondelete="cascade")
    currency_id = fields.Many2one(related="contract_id.currency_id")
    date = fields.Date(
        string="Period",
        required=True,
        default=fields.Date.context_today,
        help="Any day of the period to show.",
    )
    period_start = fields.Date(compute="_compute_statement")
    period_end = fields.Date(compute="_compute_statement")
    total = fields.Monetary(string="Usage Charges", compute="_compute_statement")
    is_open = fields.Boolean(compute="_compute_statement")
    invoice_id = fields.Many2one("account.move", compute="_compute_statement")
    statement_html = fields.Html(compute="_compute_statement", sanitize=False)

    # ------------------------------------------------------------
    # COMPUTE METHODS
    # ------------------------------------------------------------

    @api.depends("contract_id", "date")
    def _compute_statement(self):
        for wizard in self:
            if not wizard.contract_id or wizard.contract_id.state == "draft":
                wizard.update(
                    {
                        "period_start": False,
                        "period_end": False,
                        "total": 0.0,
                        "is_open": False,
                        "invoice_id": False,
                        "statement_html": False,
                    }
                )
                continue
            statement = wizard.contract_id._get_usage_statement(wizard.date)
            wizard.update(
                {
                    "period_start": statement["window"]["start"],
                    "period_end": statement["window"]["end"],
                    "total": float(statement["total"]),
                    "is_open": statement["is_open"],
                    "invoice_id": statement["invoice"].id,
                    "statement_html": self.env["ir.qweb"]._render(
                        "rbm_metering.usage_statement_content",
                        {"statement": statement, "show_periods": False},
                    ),
                }
            )

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def _get_reopen_action(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Usage Statement"),
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
            "context": {"dialog_size": "extra-large"},
        }

    def action_previous_period(self):
        check_staff_access(self, "write")
        self.ensure_one()
        if self.period_start:
            self.date = self.period_start - timedelta(days=1)
        return self._get_reopen_action()

    def action_next_period(self):
        check_staff_access(self, "write")
        self.ensure_one()
        if self.period_end:
            self.date = self.period_end + timedelta(days=1)
        return self._get_reopen_action()

    def action_print(self):
        check_staff_access(self, "read")
        self.ensure_one()
        return self.env.ref("rbm_metering.action_report_usage_statement").report_action(
            self.contract_id, data={"period": self.period_start.isoformat()}
        )

    def _get_usage_action(self, view_type):
        self.ensure_one()
        action = self.env["ir.actions.actions"]._for_xml_id("rbm_metering.rbm_usage_action")
        low = self.contract_id._get_usage_day_start(self.period_start)
        high = self.contract_id._get_usage_day_start(self.period_end + timedelta(days=1))
        action.update(
            name=self.env._(
                "Usage %(contract)s, %(start)s to %(end)s",
                contract=self.contract_id.name,
                start=self.period_start,
                end=self.period_end,
            ),
            domain=[
                ("contract_id", "=", self.contract_id.id),
                ("state", "!=", "rejected"),
                ("effective_timestamp", ">=", fields.Datetime.to_string(low)),
                ("effective_timestamp", "<", fields.Datetime.to_string(high)),
            ],
            context={"default_contract_id": self.contract_id.id},
            view_mode=f"{view_type},list,form",
            views=[(False, view_type), (False, "list"), (False, "form")],
            target="current",
        )
        return action

    def action_view_graph(self):
        check_staff_access(self, "read")
        return self._get_usage_action("graph")

    def action_view_pivot(self):
        check_staff_access(self, "read")
        return self._get_usage_action("pivot")
