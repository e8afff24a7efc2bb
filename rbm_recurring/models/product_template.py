from odoo import _, api, fields, models
from odoo.exceptions import ValidationError


class ProductTemplate(models.Model):
    _inherit = "product.template"

    rbm_billing_type = fields.Selection(
        [("recurring", "Recurring"), ("one_time", "One-time fee")],
        string="Subscription Billing",
        help="Recurring: billed every period of a contract.\n"
        "One-time fee: a setup or membership fee (taxa de adesão) billed once, "
        "optionally split over the first invoices.",
    )
    rbm_fee_installments = fields.Integer(
        string="Fee Installments",
        default=1,
        help="Number of invoices over which a one-time fee is split.",
    )

    @api.constrains("rbm_fee_installments")
    def _check_rbm_fee_installments(self):
        for product in self:
            if product.rbm_fee_installments < 1:
                raise ValidationError(
                    _(
                        "Product %(product)s: the number of fee installments must be at "
                        "least 1 (field Fee Installments).",
                        product=product.display_name,
                    )
                )
