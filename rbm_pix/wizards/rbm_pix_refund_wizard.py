from odoo import _, api, fields, models
from odoo.exceptions import UserError


class RbmPixRefundWizard(models.TransientModel):
    """*Devolver Pix*: a refund of all or part of a Pix payment received."""

    _name = "rbm.pix.refund.wizard"
    _description = "Refund Pix"

    payment_id = fields.Many2one("account.payment", required=True, readonly=True)
    company_id = fields.Many2one(related="payment_id.company_id")
    currency_id = fields.Many2one(related="payment_id.currency_id")
    partner_id = fields.Many2one(related="payment_id.partner_id", string="Customer")
    end_to_end_id = fields.Char(related="payment_id.rbm_pix_end_to_end_id")
    payment_amount = fields.Monetary(related="payment_id.amount", string="Payment Amount")
    refundable_amount = fields.Monetary(
        string="Left to Refund", compute="_compute_refundable_amount"
    )
    amount = fields.Monetary(string="Amount to Refund", required=True)
    nature = fields.Selection(
        [
            ("ORIGINAL", "Ordinary Pix (ORIGINAL)"),
            ("RETIRADA", "Pix Saque/Troco withdrawal (RETIRADA)"),
        ],
        required=True,
        default="ORIGINAL",
    )
    description = fields.Char(
        string="Message to the Payer", size=140, help="Shown to the payer by their bank."
    )
    issue_credit_note = fields.Boolean(
        string="Also Issue a Credit Note",
        help="Once the PSP confirms the refund, a credit note of the amount reverses that "
        "part of the invoice (the customer owes nothing more). Otherwise the invoice is "
        "open again by the amount refunded (the customer owes it again).",
    )

    @api.depends("payment_id")
    def _compute_refundable_amount(self):
        for wizard in self:
            payment = wizard.payment_id.sudo()
            wizard.refundable_amount = payment and payment._rbm_pix_refundable_amount()

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        payment_id = values.get("payment_id") or self.env.context.get("default_payment_id")
        if payment_id:
            payment = self.env["account.payment"].browse(payment_id)
            payment._rbm_pix_check_refund_rights()
            if "amount" in fields_list and "amount" not in values:
                values["amount"] = payment.sudo()._rbm_pix_refundable_amount()
        return values

    @api.model_create_multi
    def create(self, vals_list):
        wizards = super().create(vals_list)
        for wizard in wizards:
            wizard.payment_id._rbm_pix_check_refund_rights()
        return wizards

    def action_confirm(self):
        # rights first: whoever may not refund learns nothing else
        self.env["account.payment"]._rbm_pix_check_refund_rights()
        self.ensure_one()
        payment = self.payment_id
        payment._rbm_pix_check_refund_rights()
        if not payment.sudo()._rbm_pix_is_refundable():
            raise UserError(
                _(
                    "Payment %(payment)s is not a Pix payment received that can be refunded.",
                    payment=payment.display_name,
                )
            )
        refund = (
            self.env["rbm.pix.refund"]
            .sudo()
            ._create_for_payment(
                payment,
                self.amount,
                nature=self.nature,
                description=self.description,
                issue_credit_note=self.issue_credit_note,
            )
        )
        return {
            "type": "ir.actions.act_window",
            "res_model": "rbm.pix.refund",
            "res_id": refund.id,
            "view_mode": "form",
            "target": "current",
        }
