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

    def unlink(self):
        """A usage line removed from a draft invoice, or an invoice deleted,
        no longer bills its usage: the events go back to the next invoice."""
        self.env["rbm.usage"]._release_invoice_lines(self)
        return super().unlink()
