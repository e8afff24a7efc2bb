import base64

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import format_datetime

from ..models.rbm_debit_occurrence import RECORD_TYPES


class RbmDebitImportWizard(models.TransientModel):
    _name = "rbm.debit.import.wizard"
    _description = "Import a Direct Debit Return File"
    _check_company_auto = True

    collection_account_id = fields.Many2one(
        "rbm.collection.account",
        string="Agreement",
        required=True,
        check_company=True,
        domain="[('debit_agreement', '!=', False)]",
    )
    company_id = fields.Many2one(
        "res.company", default=lambda self: self.env.company, required=True
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    data = fields.Binary(string="Return File", required=True)
    filename = fields.Char()
    state = fields.Selection([("upload", "Upload"), ("preview", "Preview")], default="upload")
    line_ids = fields.One2many("rbm.debit.import.line", "wizard_id", string="Lines")
    already_imported = fields.Char(readonly=True)
    new_count = fields.Integer(compute="_compute_summary")
    duplicate_count = fields.Integer(compute="_compute_summary")
    problem_count = fields.Integer(compute="_compute_summary")
    total_debited = fields.Monetary(compute="_compute_summary")

    @api.depends("line_ids.status", "line_ids.amount", "line_ids.debited")
    def _compute_summary(self):
        for wizard in self:
            lines = wizard.line_ids
            new = lines.filtered(lambda line: line.status == "new")
            wizard.new_count = len(new)
            wizard.duplicate_count = len(lines.filtered(lambda line: line.status == "duplicate"))
            wizard.problem_count = len(lines.filtered(lambda line: line.status == "problem"))
            wizard.total_debited = sum(new.filtered("debited").mapped("amount"))

    def _get_content(self):
        self.ensure_one()
        return base64.b64decode(self.data or b"")

    def action_preview(self):
        """Read the file and show what each line will do (nothing is written)."""
        self.ensure_one()
        DebitFile = self.env["rbm.debit.file"]
        account = self.collection_account_id
        content = self._get_content()
        _header, plan = DebitFile._plan_return(account, content)
        imported = DebitFile._find_imported(account, content)
        self.line_ids = [fields.Command.clear()] + [
            fields.Command.create(
                {
                    "line_number": entry["vals"]["line_number"],
                    "record_type": entry["vals"]["record_type"],
                    "customer_identifier": entry["vals"]["customer_identifier"],
                    "mandate_id": _id(entry.get("mandate")),
                    "partner_id": _id(
                        entry.get("partner")
                        or (entry.get("mandate") and entry["mandate"].partner_id)
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
            )
            for entry in plan
        ]
        self.write(
            {
                "state": "preview",
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
        debit_file = self.env["rbm.debit.file"]._import_return(
            self.collection_account_id, self._get_content(), self.filename
        )
        return {
            "type": "ir.actions.act_window",
            "res_model": "rbm.debit.file",
            "res_id": debit_file.id,
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
            "name": _("Import Direct Debit Return"),
        }


class RbmDebitImportLine(models.TransientModel):
    _name = "rbm.debit.import.line"
    _description = "Direct Debit Return Line (preview)"
    _order = "line_number"

    wizard_id = fields.Many2one("rbm.debit.import.wizard", required=True, ondelete="cascade")
    currency_id = fields.Many2one(related="wizard_id.currency_id")
    line_number = fields.Integer()
    record_type = fields.Selection(RECORD_TYPES)
    customer_identifier = fields.Char(string="Customer Identifier")
    mandate_id = fields.Many2one("rbm.debit.mandate")
    partner_id = fields.Many2one("res.partner", string="Customer")
    debit_id = fields.Many2one("rbm.debit")
    move_id = fields.Many2one(related="debit_id.move_id", string="Invoice")
    code = fields.Char()
    description = fields.Char()
    date = fields.Date()
    amount = fields.Monetary()
    debited = fields.Boolean()
    status = fields.Selection(
        [("new", "To Apply"), ("duplicate", "Already Imported"), ("problem", "Problem")]
    )
    message = fields.Char()


def _id(record):
    return record.id if record else False
