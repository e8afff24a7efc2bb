from odoo import api, fields, models


class RbmPlanLine(models.Model):
    _name = "rbm.plan.line"
    _description = "Subscription Plan Line"
    _order = "plan_id, sequence, id"

    plan_id = fields.Many2one("rbm.plan", required=True, ondelete="cascade", index=True)
    sequence = fields.Integer(default=10)
    company_id = fields.Many2one(related="plan_id.company_id", store=True)
    currency_id = fields.Many2one(related="plan_id.currency_id")
    product_id = fields.Many2one(
        "product.product",
        required=True,
        domain="[('sale_ok', '=', True)]",
        check_company=True,
    )
    name = fields.Char(
        string="Description",
        compute="_compute_name",
        store=True,
        readonly=False,
        translate=True,
    )
    line_type = fields.Selection(
        [("recurring", "Recurring"), ("one_time", "One-time fee")],
        compute="_compute_line_type",
        store=True,
        readonly=False,
        required=True,
        precompute=True,
    )
    quantity = fields.Float(default=1.0, digits="Product Unit of Measure", required=True)
    price_unit = fields.Float(
        string="Unit Price",
        digits="Product Price",
        compute="_compute_price_unit",
        store=True,
        readonly=False,
        precompute=True,
    )
    subtotal = fields.Monetary(compute="_compute_subtotal", currency_field="currency_id")

    @api.depends("product_id")
    def _compute_name(self):
        for line in self:
            if line.product_id:
                line.name = line.product_id.display_name

    @api.depends("product_id")
    def _compute_line_type(self):
        for line in self:
            line.line_type = line.product_id.rbm_billing_type or "recurring"

    @api.depends("product_id")
    def _compute_price_unit(self):
        for line in self:
            line.price_unit = line.product_id.lst_price

    @api.depends("quantity", "price_unit")
    def _compute_subtotal(self):
        for line in self:
            line.subtotal = line.currency_id.round(line.quantity * line.price_unit)

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
