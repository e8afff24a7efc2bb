from odoo import fields, models


class RbmCancelReason(models.Model):
    _name = "rbm.cancel.reason"
    _description = "Subscription Cancellation Reason"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    portal_visible = fields.Boolean(
        string="Offered on the Portal",
        default=True,
        help="Customers may pick this reason when they cancel on the portal.",
    )
