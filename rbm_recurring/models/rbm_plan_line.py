from odoo import fields, models


class RbmPlanLine(models.Model):
    _name = "rbm.plan.line"
    _inherit = ["rbm.product.line.mixin"]
    _description = "Subscription Plan Line"
    _order = "plan_id, sequence, id"

    plan_id = fields.Many2one("rbm.plan", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="plan_id.company_id", store=True)
    currency_id = fields.Many2one(related="plan_id.currency_id")
    name = fields.Char(translate=True)

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
        }
