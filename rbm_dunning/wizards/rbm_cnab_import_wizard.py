import base64

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import format_datetime

from ..models.rbm_cnab_occurrence import OCCURRENCE_KINDS


class RbmCnabImportWizard(models.TransientModel):
    _name = "rbm.cnab.import.wizard"
    _description = "Import a CNAB Return File"
    _check_company_auto = True

    collection_account_id = fields.Many2one(
        "rbm.collection.account",
        string="Collection Account",
        required=True,
        check_company=True,
    )
    company_id = fields.Many2one(
        "res.company", default=lambda self: self.env.company, required=True
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    data = fields.Binary(string="Return File", required=True)
    filename = fields.Char()
    state = fields.Selection([("upload", "Upload"), ("preview", "Preview")], default="upload")
    line_ids = fields.One2many("rbm.cnab.import.line", "wizard_id", string="Lines")
    layout = fields.Char(readonly=True)
    already_imported = fields.Char(readonly=True)
    new_count = fields.Integer(compute="_compute_summary")
    duplicate_count = fields.Integer(compute="_compute_summary")
    problem_count = fields.Integer(compute="_compute_summary")
    total_paid = fields.Monetary(compute="_compute_summary")

    @api.depends("line_ids.status", "line_ids.amount_paid")
    def _compute_summary(self):
        for wizard in self:
            lines = wizard.line_ids
            wizard.new_count = len(lines.filtered(lambda line: line.status == "new"))
            wizard.duplicate_count = len(lines.filtered(lambda line: line.status == "duplicate"))
            wizard.problem_count = len(lines.filtered(lambda line: line.status == "problem"))
            wizard.total_paid = sum(
                lines.filtered(lambda line: line.status == "new" and line.kind == "paid").mapped(
                    "amount_paid"
                )
            )

    def _get_content(self):
        self.ensure_one()
        return base64.b64decode(self.data or b"")

    def action_preview(self):
        """Read the file and show what each line will do (nothing is written)."""
        self.ensure_one()
        content = self._get_content()
        CnabFile = self.env["rbm.cnab.file"]
        account = self.collection_account_id
        layout, _header, plan = CnabFile._plan_return(account, content)
        imported = CnabFile._find_imported(account, content)
        self.line_ids = [fields.Command.clear()] + [
            fields.Command.create(
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
            )
            for entry in plan
        ]
        self.write(
            {
                "state": "preview",
                "layout": layout,
                "already_imported": imported
                and _(
                    "This file was already imported on %(date)s (%(file)s).",
                    date=format_datetime(self.env, imported.file_date),
                    file=imported.display_name,
                ),
            }
        )
        return self._reopen()

    def action_back(self):
        self.ensure_one()
        self.write({"state": "upload", "line_ids": [fields.Command.clear()]})
        return self._reopen()

    def action_import(self):
        """Apply the file (read again: the preview is only shown)."""
        self.ensure_one()
        if not self.data:
            raise UserError(_("Choose a return file first."))
        cnab_file = self.env["rbm.cnab.file"]._import_return(
            self.collection_account_id, self._get_content(), self.filename
        )
        return {
            "type": "ir.actions.act_window",
            "res_model": "rbm.cnab.file",
            "res_id": cnab_file.id,
            "view_mode": "form",
            "target": "current",
        }

    def _reopen(self):
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
            "name": _("Import Return File"),
        }


class RbmCnabImportLine(models.TransientModel):
    _name = "rbm.cnab.import.line"
    _description = "Return File Line (preview)"
    _order = "line_number"

    wizard_id = fields.Many2one("rbm.cnab.import.wizard", required=True, ondelete="cascade")
    currency_id = fields.Many2one(related="wizard_id.currency_id")
    line_number = fields.Integer()
    our_number = fields.Char()
    boleto_id = fields.Many2one("rbm.boleto")
    move_id = fields.Many2one(related="boleto_id.move_id", string="Invoice")
    partner_id = fields.Many2one(related="boleto_id.partner_id", string="Payer")
    code = fields.Char()
    kind = fields.Selection(OCCURRENCE_KINDS)
    description = fields.Char()
    occurrence_date = fields.Date()
    credit_date = fields.Date()
    amount = fields.Monetary()
    amount_paid = fields.Monetary()
    interest_fine = fields.Monetary(string="Interest and Fine")
    fee = fields.Monetary()
    status = fields.Selection(
        [("new", "To Apply"), ("duplicate", "Already Imported"), ("problem", "Problem")]
    )
    message = fields.Char()
