from odoo import fields, models


class PaymentToken(models.Model):
    _inherit = "payment.token"

    pagbank_holder_name = fields.Char(
        string="Card Holder",
        help="Name of the card holder, sent with every charge of a saved PagBank card.",
        readonly=True,
    )
