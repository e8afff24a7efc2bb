from odoo import _, api, fields, models
from odoo.exceptions import ValidationError


class RbmPlanLine(models.Model):
    _name = "rbm.plan.line"
    _inherit = ["rbm.product.line.mixin"]
    _description = "Subscription Plan Line"
    _order = "plan_id, sequence, id"

    plan_id = fields.Many2one("rbm.plan", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="plan_id.company_id", store=True)
    currency_id = fields.Many2one(related="plan_id.currency_id")
    name = fields.Char(translate=True)
    portal_editable = fields.Boolean(
        string="Customer May Change Quantity",
        help="The customer may change the quantity of this line from the portal, between "
        "the min and max quantities. The line itself cannot be removed by the customer.",
    )
    portal_min_quantity = fields.Float(
        string="Customer Min Quantity",
        digits="Product Unit of Measure",
        default=1.0,
    )
    portal_max_quantity = fields.Float(
        string="Customer Max Quantity",
        digits="Product Unit of Measure",
        default=10.0,
    )

    @api.constrains("portal_editable", "portal_min_quantity", "portal_max_quantity")
    def _check_portal_quantities(self):
        for line in self.filtered("portal_editable"):
            if line.portal_min_quantity <= 0:
                raise ValidationError(
                    _(
                        "Plan %(plan)s, line %(line)s: the customer min quantity must be "
                        "positive, a base line cannot be removed by the customer (field "
                        "Customer Min Quantity).",
                        plan=line.plan_id.display_name,
                        line=line.name or line.product_id.display_name,
                    )
                )
            if line.portal_max_quantity < line.portal_min_quantity:
                raise ValidationError(
                    _(
                        "Plan %(plan)s, line %(line)s: the customer max quantity must not be "
                        "below the min quantity (field Customer Max Quantity).",
                        plan=line.plan_id.display_name,
                        line=line.name or line.product_id.display_name,
                    )
                )

    def _prepare_contract_line_vals(self):
        self.ensure_one()
        return {
            "sequence": self.sequence,
            "product_id": self.product_id.id,
            "name": self.name,
            "line_type": self.line_type,
            "quantity": self.quantity,
            "price_unit": self.price_unit,
            "installments": self.product_id.rbm_fee_installments or 1,
            "plan_line_id": self.id,
        }
