from odoo import _, api, fields, models
from odoo.exceptions import UserError

from odoo.addons.rbm_recurring.tools import check_staff_access

from ..engine import dps as dps_engine


class RbmNfseReplaceWizard(models.TransientModel):
    """Replace an issued NFS-e (substituição): a new DPS with the group ``subst`` (the
    replaced access key and the reason of the national list) is issued from the invoice as it
    is now; the Sefin then cancels the replaced NFS-e by substitution (event e105102)."""

    _name = "rbm.nfse.replace.wizard"
    _description = "Replace NFS-e"

    nfse_id = fields.Many2one("rbm.nfse", string="NFS-e", required=True, readonly=True)
    move_id = fields.Many2one(related="nfse_id.move_id")
    access_key = fields.Char(related="nfse_id.access_key")
    reason_code = fields.Selection(
        [(code, f"{code} - {text}") for code, text in dps_engine.REPLACE_REASONS.items()],
        string="Reason",
        required=True,
        default="99",
    )
    reason = fields.Char(
        string="Explanation",
        help="What the substitute corrects, 15 to 255 characters (sent to the Sefin Nacional); "
        'required with "99 - Outros".',
    )

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        nfse = self.env["rbm.nfse"].browse(values.get("nfse_id"))
        if nfse and nfse.state != "issued":
            raise UserError(
                _(
                    "Only an issued NFS-e can be replaced: %(nfse)s of invoice %(invoice)s is "
                    "not issued.",
                    nfse=nfse.display_name,
                    invoice=nfse.move_id.display_name,
                )
            )
        return values

    def action_replace(self):
        check_staff_access(self, "write")
        self.ensure_one()
        check_staff_access(self.nfse_id)
        # rights checked: the DPS counter and the certificate are read as the system
        substitute = self.nfse_id.sudo()._replace(self.reason_code, self.reason)
        return {
            "type": "ir.actions.act_window",
            "res_model": "rbm.nfse",
            "view_mode": "form",
            "res_id": substitute.id,
        }
