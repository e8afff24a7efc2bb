import base64

from odoo import _, fields, models
from odoo.tools.safe_eval import safe_eval

from odoo.addons.rbm_recurring.engine import periods
from odoo.addons.rbm_recurring.tools import check_staff_access


class RbmAgingReportWizard(models.TransientModel):
    """Opens the receivables aging or portfolio as of a date, or downloads
    them as an XLSX workbook."""

    _name = "rbm.aging.report.wizard"
    _description = "Receivables Aging Report"

    date = fields.Date(
        string="As of",
        required=True,
        default=fields.Date.context_today,
        help="Installments open at the end of this day, aged on it.",
    )
    xlsx_file = fields.Binary(string="XLSX File", readonly=True, attachment=False)
    xlsx_filename = fields.Char(readonly=True)

    def _get_aging_action(self, xmlid):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(xmlid)
        action["context"] = {
            **safe_eval(action.get("context") or "{}"),
            "rbm_aging_date": fields.Date.to_string(self.date),
        }
        action["name"] = _(
            "%(report)s at %(date)s",
            report=action["name"],
            date=periods.format_br_date(self.date),
        )
        return action

    def action_open_aging(self):
        check_staff_access(self, "read")
        return self._get_aging_action("rbm_dunning.rbm_receivable_aging_action")

    def action_open_portfolio(self):
        check_staff_access(self, "read")
        return self._get_aging_action("rbm_dunning.rbm_receivable_portfolio_action")

    def action_export_xlsx(self):
        check_staff_access(self, "write")
        self.ensure_one()
        content = self.env["rbm.receivable.aging"]._get_aging_xlsx(self.date)
        self.write(
            {
                "xlsx_file": base64.b64encode(content),
                "xlsx_filename": f"aging-{self.date:%Y-%m-%d}.xlsx",
            }
        )
        return {
            "type": "ir.actions.act_url",
            "url": f"/web/content/{self._name}/{self.id}/xlsx_file/{self.xlsx_filename}"
            "?download=true",
            "target": "self",
        }
