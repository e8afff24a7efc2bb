from odoo import fields, models


class RbmPlanFamily(models.Model):
    """Plans that are alternatives to one another (e.g. Basic, Pro, Business of
    one product): a customer may switch between the self-service plans of a
    family from the portal."""

    _name = "rbm.plan.family"
    _description = "Subscription Plan Family"
    _order = "sequence, name, id"

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    plan_ids = fields.One2many("rbm.plan", "family_id", string="Plans")
