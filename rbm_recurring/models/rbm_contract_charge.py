from odoo import Command, api, fields, models


class RbmContractCharge(models.Model):
    """A one-off amount waiting for the contract's next invoice: the prorated
    charge or credit of a change, an early-termination fee..."""

    _name = "rbm.contract.charge"
    _description = "Subscription One-off Charge"
    _order = "date, id"
    _check_company_auto = True

    contract_id = fields.Many2one(
        "rbm.contract", required=True, ondelete="cascade", index=True, readonly=True
    )
    company_id = fields.Many2one(related="contract_id.company_id", store=True)
    currency_id = fields.Many2one(related="contract_id.currency_id")
    change_id = fields.Many2one("rbm.contract.change", ondelete="set null", readonly=True)
    date = fields.Date(required=True, readonly=True)
    product_id = fields.Many2one("product.product", required=True, readonly=True)
    name = fields.Char(string="Description", required=True, readonly=True)
    amount = fields.Monetary(required=True, readonly=True)
    untaxed = fields.Boolean(
        string="Without Taxes",
        readonly=True,
        help="Invoiced without the product's taxes: the amount is what the customer owes "
        "(late payment interest and fines).",
    )
    invoice_line_ids = fields.One2many("account.move.line", "rbm_charge_id", readonly=True)
    state = fields.Selection(
        [("pending", "Waiting for the next invoice"), ("invoiced", "Invoiced")],
        compute="_compute_state",
    )

    @api.depends("invoice_line_ids")
    def _compute_state(self):
        for charge in self:
            charge.state = "invoiced" if charge.invoice_line_ids else "pending"

    def _prepare_invoice_line_vals(self):
        self.ensure_one()
        vals = {
            "display_type": "product",
            "product_id": self.product_id.id,
            "product_uom_id": self.product_id.uom_id.id,
            "name": self.name,
            "quantity": 1.0,
            "price_unit": self.amount,
            "rbm_charge_id": self.id,
        }
        if self.untaxed:
            vals["tax_ids"] = [Command.clear()]
        return vals
