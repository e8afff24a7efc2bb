from odoo import api, fields, models


class RbmProductLineMixin(models.AbstractModel):
    """A product sold on a subscription, as plans and contracts list them:
    description, recurring or one-time, quantity and unit price (from the
    product unless set), subtotal."""

    _name = "rbm.product.line.mixin"
    _description = "Subscription Product Line"

    sequence = fields.Integer(default=10)
    company_id = fields.Many2one("res.company")
    currency_id = fields.Many2one("res.currency")
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
        precompute=True,
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
            # a product with no billing type keeps the type chosen on the line
            if not line.line_type or line.product_id.rbm_billing_type:
                line.line_type = line.product_id.rbm_billing_type or "recurring"

    @api.depends("product_id")
    def _compute_price_unit(self):
        for line in self:
            line.price_unit = line.product_id.lst_price

    @api.depends("quantity", "price_unit")
    def _compute_subtotal(self):
        for line in self:
            line.subtotal = (line.currency_id or self.env.company.currency_id).round(
                line.quantity * line.price_unit
            )
