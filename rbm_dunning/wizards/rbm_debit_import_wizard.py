from odoo import _, api, fields, models

from ..models.rbm_debit_occurrence import RECORD_TYPES


class RbmDebitImportWizard(models.TransientModel):
    _name = "rbm.debit.import.wizard"
    _inherit = "rbm.return.import.mixin"
    _description = "Import a Direct Debit Return File"
    _return_file_model = "rbm.debit.file"

    collection_account_id = fields.Many2one(
        string="Agreement", domain="[('debit_agreement', '!=', False)]"
    )
    line_ids = fields.One2many("rbm.debit.import.line", "wizard_id", string="Lines")
    total_debited = fields.Monetary(compute="_compute_summary")

    @api.depends("line_ids.status", "line_ids.amount", "line_ids.debited")
    def _compute_summary(self):
        super()._compute_summary()
        for wizard in self:
            new = wizard.line_ids.filtered(lambda line: line.status == "new")
            wizard.total_debited = sum(new.filtered("debited").mapped("amount"))

    def _plan_preview(self, account, content):
        _header, plan = self.env["rbm.debit.file"]._plan_return(account, content, self.filename)
        lines_vals = [
            {
                "line_number": entry["vals"]["line_number"],
                "record_type": entry["vals"]["record_type"],
                "customer_identifier": entry["vals"]["customer_identifier"],
                "mandate_id": _id(entry.get("mandate")),
                "partner_id": _id(
                    entry.get("partner") or (entry.get("mandate") and entry["mandate"].partner_id)
                ),
                "debit_id": _id(entry.get("debit")),
                "code": entry["vals"]["code"],
                "description": entry["vals"]["description"],
                "date": entry["vals"]["date"],
                "amount": entry["vals"].get("amount", 0.0),
                "debited": entry["kind"] == "result" and entry["item"].debited,
                "status": entry["status"],
                "message": entry["message"] or False,
            }
            for entry in plan
        ]
        return lines_vals, {}

    def _get_title(self):
        return _("Import Direct Debit Return")


class RbmDebitImportLine(models.TransientModel):
    _name = "rbm.debit.import.line"
    _inherit = "rbm.return.import.line.mixin"
    _description = "Direct Debit Return Line (preview)"

    wizard_id = fields.Many2one("rbm.debit.import.wizard", required=True, ondelete="cascade")
    currency_id = fields.Many2one(related="wizard_id.currency_id")
    record_type = fields.Selection(RECORD_TYPES)
    customer_identifier = fields.Char(string="Customer Identifier")
    mandate_id = fields.Many2one("rbm.debit.mandate")
    partner_id = fields.Many2one("res.partner", string="Customer")
    debit_id = fields.Many2one("rbm.debit")
    move_id = fields.Many2one(related="debit_id.move_id", string="Invoice")
    date = fields.Date()
    debited = fields.Boolean()


def _id(record):
    return record.id if record else False
