from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools.misc import format_date, formatLang

from ..tools import check_staff_access


class RbmContractCancelWizard(models.TransientModel):
    _name = "rbm.contract.cancel.wizard"
    _description = "Cancel a Subscription Contract"

    contract_id = fields.Many2one("rbm.contract", required=True, readonly=True)
    reason_id = fields.Many2one("rbm.cancel.reason", string="Reason", required=True)
    timing = fields.Selection(
        [("now", "Immediately"), ("period_end", "At the end of the period")],
        required=True,
        default="period_end",
    )
    note = fields.Text()
    preview = fields.Html(compute="_compute_preview", sanitize=False)
    error = fields.Char(compute="_compute_preview")

    @api.depends("contract_id", "timing")
    def _compute_preview(self):
        for wizard in self:
            wizard.preview = False
            wizard.error = False
            contract = wizard.contract_id
            if not contract:
                continue
            try:
                prepared = contract._prepare_cancellation(wizard.timing)
            except UserError as error:
                wizard.error = str(error.args[0])
                continue

            def money(value, contract=contract):
                return formatLang(self.env, float(value), currency_obj=contract.currency_id)

            html = Markup("<p>%s</p>") % _(
                "Last day of service: %(date)s.",
                date=format_date(self.env, prepared["last_day"]),
            )
            for item in prepared["refunds"]:
                html += Markup("<p>%s: %s</p>") % (
                    _("Credit note: %(name)s", name=item["name"]),
                    money(item["amount"]),
                )
            if prepared["fee"]:
                html += Markup("<p>%s: %s</p>") % (prepared["fee_text"], money(prepared["fee"]))
            elif prepared["commitment_text"]:
                html += Markup("<p>%s.</p>") % prepared["commitment_text"]
            wizard.preview = html

    def action_confirm(self):
        check_staff_access(self, "write")
        self.ensure_one()
        self.contract_id._cancel(self.reason_id, self.timing, note=self.note)
        return {"type": "ir.actions.act_window_close"}
