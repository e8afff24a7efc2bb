import hashlib

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL, format_datetime, sql

from odoo.addons.rbm_recurring.tools import check_staff_access


class RbmBankFileMixin(models.AbstractModel):
    """What a file exchanged with the bank is, whatever its layout: the
    remittances generated here (numbered by a sequence per collection account)
    and the returns imported, each return once (by the hash of its bytes)."""

    _name = "rbm.bank.file.mixin"
    _description = "Bank File"
    _order = "file_date desc, id desc"
    _check_company_auto = True

    name = fields.Char(compute="_compute_name", store=True)
    collection_account_id = fields.Many2one(
        "rbm.collection.account",
        string="Collection Account",
        required=True,
        ondelete="restrict",
        index=True,
        check_company=True,
        readonly=True,
    )
    company_id = fields.Many2one(
        related="collection_account_id.company_id", store=True, precompute=True, index=True
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    direction = fields.Selection(
        [("remittance", "Remittance"), ("return", "Return")], required=True, readonly=True
    )
    nsa = fields.Integer(string="File Sequence (NSA)", readonly=True)
    file_date = fields.Datetime(required=True, readonly=True, default=fields.Datetime.now)
    filename = fields.Char(readonly=True)
    datas = fields.Binary(string="File", attachment=True, readonly=True)
    file_hash = fields.Char(readonly=True, index=True)
    line_count = fields.Integer(string="Line Count", readonly=True)
    duplicate_count = fields.Integer(
        readonly=True, help="Lines skipped because an earlier file already brought them."
    )

    def init(self):
        super().init()
        if self._abstract:
            return
        # one remittance per sequence number and collection account
        index = f"{self._table}_remittance_nsa_uniq"
        if not sql.index_exists(self.env.cr, index):
            self.env.cr.execute(
                SQL(
                    "CREATE UNIQUE INDEX %s ON %s (collection_account_id, nsa) "
                    "WHERE direction = 'remittance'",
                    SQL.identifier(index),
                    SQL.identifier(self._table),
                )
            )

    def _compute_name(self):
        raise NotImplementedError  # each kind of file names itself

    def action_download(self):
        check_staff_access(self, "read")
        self.ensure_one()
        return {
            "type": "ir.actions.act_url",
            "url": f"/web/content/{self._name}/{self.id}/datas/{self.filename}?download=true",
            "target": "self",
        }

    @api.model
    def _hash(self, data):
        return hashlib.sha256(data).hexdigest()

    @api.model
    def _find_imported(self, account, data):
        """The return file of ``account`` with these very bytes, if any."""
        return self.search(
            [
                ("collection_account_id", "=", account.id),
                ("direction", "=", "return"),
                ("file_hash", "=", self._hash(data)),
            ],
            limit=1,
        )

    @api.model
    def _check_not_imported(self, account, data):
        """Refuse a return file ``account`` already imported (the very same bytes)."""
        imported = self._find_imported(account, data)
        if imported:
            raise UserError(
                _(
                    "This file was already imported on %(date)s (%(file)s): nothing to do.",
                    date=format_datetime(self.env, imported.file_date),
                    file=imported.display_name,
                )
            )
