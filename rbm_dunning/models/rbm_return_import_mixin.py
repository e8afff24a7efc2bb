import base64

from odoo import _, fields, models
from odoo.exceptions import UserError
from odoo.tools import format_datetime

from odoo.addons.rbm_recurring.tools import check_staff_access


class RbmReturnImportMixin(models.AbstractModel):
    """What the return-file import wizards share (CNAB 240/400 returns of
    boletos, CNAB 150 returns of direct debits): upload, a preview of what
    each line will do (nothing written), the import, going back.

    A wizard sets ``_return_file_model`` (the model whose ``_plan_return`` /
    ``_find_imported`` / ``_import_return`` read and apply the file), defines
    ``line_ids`` and implements ``_plan_preview`` and ``_get_title``."""

    _name = "rbm.return.import.mixin"
    _description = "Return File Import"
    _check_company_auto = True
    _return_file_model = None

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
    already_imported = fields.Char(readonly=True)
    new_count = fields.Integer(compute="_compute_summary")
    duplicate_count = fields.Integer(compute="_compute_summary")
    problem_count = fields.Integer(compute="_compute_summary")

    def _compute_summary(self):
        """The lines per status; wizards add their totals (and the
        dependencies on their own line fields)."""
        for wizard in self:
            lines = wizard.line_ids
            wizard.new_count = len(lines.filtered(lambda line: line.status == "new"))
            wizard.duplicate_count = len(lines.filtered(lambda line: line.status == "duplicate"))
            wizard.problem_count = len(lines.filtered(lambda line: line.status == "problem"))

    def _get_content(self):
        self.ensure_one()
        return base64.b64decode(self.data or b"")

    def _plan_preview(self, account, content):
        """(preview line values, extra wizard values) of the file."""
        raise NotImplementedError

    def _get_title(self):
        raise NotImplementedError

    def action_preview(self):
        """Read the file and show what each line will do (nothing is written)."""
        check_staff_access(self, "write")
        self.ensure_one()
        account = self.collection_account_id
        content = self._get_content()
        lines_vals, extra = self._plan_preview(account, content)
        imported = self.env[self._return_file_model]._find_imported(account, content)
        self.line_ids = [fields.Command.clear()] + [
            fields.Command.create(vals) for vals in lines_vals
        ]
        self.write(
            {
                **extra,
                "state": "preview",
                # an empty recordset is no text: "and" would store its repr
                "already_imported": _(
                    "This file was already imported on %(date)s (%(file)s).",
                    date=format_datetime(self.env, imported.file_date),
                    file=imported.display_name,
                )
                if imported
                else False,
            }
        )
        return self._reopen()

    def action_back(self):
        check_staff_access(self, "write")
        self.ensure_one()
        self.write({"state": "upload", "line_ids": [fields.Command.clear()]})
        return self._reopen()

    def action_import(self):
        """Apply the file (read again: the preview is only shown)."""
        check_staff_access(self, "write")
        self.ensure_one()
        if not self.data:
            raise UserError(_("Choose a return file first."))
        imported = self.env[self._return_file_model]._import_return(
            self.collection_account_id, self._get_content(), self.filename
        )
        return {
            "type": "ir.actions.act_window",
            "res_model": self._return_file_model,
            "res_id": imported.id,
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
            "name": self._get_title(),
        }


class RbmReturnImportLineMixin(models.AbstractModel):
    """What the preview lines of the return-file import wizards share."""

    _name = "rbm.return.import.line.mixin"
    _description = "Return File Line (preview)"
    _order = "line_number"

    currency_id = fields.Many2one("res.currency")
    line_number = fields.Integer()
    code = fields.Char()
    description = fields.Char()
    amount = fields.Monetary()
    status = fields.Selection(
        [("new", "To Apply"), ("duplicate", "Already Imported"), ("problem", "Problem")]
    )
    message = fields.Char()
