from odoo import _, api, fields, models

from ..models.rbm_cnab_occurrence import OCCURRENCE_KINDS


class RbmCnabImportWizard(models.TransientModel):
    _name = "rbm.cnab.import.wizard"
    _inherit = "rbm.return.import.mixin"
    _description = "Import a CNAB Return File"
    _return_file_model = "rbm.cnab.file"

    line_ids = fields.One2many("rbm.cnab.import.line", "wizard_id", string="Lines")
    layout = fields.Char(readonly=True)
    total_paid = fields.Monetary(compute="_compute_summary")

    @api.depends("line_ids.status", "line_ids.amount_paid")
    def _compute_summary(self):
        super()._compute_summary()
        for wizard in self:
            wizard.total_paid = sum(
                wizard.line_ids.filtered(
                    lambda line: line.status == "new" and line.kind == "paid"
                ).mapped("amount_paid")
            )

    def _plan_preview(self, account, content):
        header, plan = self.env["rbm.cnab.file"]._plan_return(account, content, self.filename)
        lines_vals = [
            {
                "line_number": entry["vals"]["line_number"],
                "our_number": entry["vals"]["our_number"],
                "boleto_id": entry["boleto"].id,
                "code": entry["vals"]["code"],
                "kind": entry["vals"]["kind"],
                "description": entry["vals"]["description"],
                "occurrence_date": entry["vals"]["occurrence_date"],
                "credit_date": entry["vals"]["credit_date"],
                "amount": entry["vals"]["amount"],
                "amount_paid": entry["vals"]["amount_paid"],
                "interest_fine": entry["vals"]["interest_fine"],
                "fee": entry["vals"]["fee"],
                "status": entry["status"],
                "message": entry["message"] or False,
            }
            for entry in plan
        ]
        return lines_vals, {"layout": header["layout"]}

    def _get_title(self):
        return _("Import Return File")


class RbmCnabImportLine(models.TransientModel):
    _name = "rbm.cnab.import.line"
    _inherit = "rbm.return.import.line.mixin"
    _description = "Return File Line (preview)"

    wizard_id = fields.Many2one("rbm.cnab.import.wizard", required=True, ondelete="cascade")
    currency_id = fields.Many2one(related="wizard_id.currency_id")
    our_number = fields.Char()
    boleto_id = fields.Many2one("rbm.boleto")
    move_id = fields.Many2one(related="boleto_id.move_id", string="Invoice")
    partner_id = fields.Many2one(related="boleto_id.partner_id", string="Payer")
    kind = fields.Selection(OCCURRENCE_KINDS)
    occurrence_date = fields.Date()
    credit_date = fields.Date()
    amount_paid = fields.Monetary()
    interest_fine = fields.Monetary(string="Interest and Fine")
    fee = fields.Monetary()
