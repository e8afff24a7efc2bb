from odoo import fields, models


class AccountMoveLine(models.Model):
    _inherit = "account.move.line"

    rbm_price_filter_id = fields.Many2one(
        "rbm.usage.price.filter",
        string="Usage Price by Property Value",
        index="btree_not_null",
        ondelete="set null",
        copy=False,
        help="The property value whose usage this invoice line bills.",
    )
