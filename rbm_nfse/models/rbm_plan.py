from odoo import fields, models

from ..tools import ISSUE_MOMENTS


class RbmPlan(models.Model):
    _inherit = "rbm.plan"

    nfse_issue_moment = fields.Selection(
        ISSUE_MOMENTS,
        string="Issue the NFS-e",
        help="When the NFS-e of this plan's invoices is issued; empty: the company's setting.",
    )
    nfse_days_before_due = fields.Integer(string="NFS-e Days Before Due Date", default=5)
