from odoo import fields, models

from odoo.addons.rbm_recurring.tools import check_staff_access

from ..engine import dps as dps_engine


class RbmNfseCancelWizard(models.TransientModel):
    """Cancel an issued NFS-e (event e101101, with its reason) and then its invoice."""

    _name = "rbm.nfse.cancel.wizard"
    _description = "Cancel NFS-e"

    nfse_id = fields.Many2one("rbm.nfse", required=True, readonly=True)
    reason_code = fields.Selection(
        [(code, text) for code, text in dps_engine.CANCEL_REASONS.items()],
        string="Reason",
        required=True,
        default="1",
    )
    reason = fields.Char(
        string="Explanation",
        required=True,
        help="Why the NFS-e is cancelled, 15 to 255 characters (sent to the Sefin Nacional).",
    )

    def action_cancel(self):
        check_staff_access(self, "write")
        self.ensure_one()
        check_staff_access(self.nfse_id)
        self.nfse_id._cancel(self.reason_code, self.reason)
        return {"type": "ir.actions.act_window_close"}
