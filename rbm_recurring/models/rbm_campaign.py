from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..engine import periods


class RbmCampaign(models.Model):
    _name = "rbm.campaign"
    _description = "Subscription Campaign"
    _order = "date_from desc, id desc"
    _check_company_auto = True

    name = fields.Char(required=True, translate=True)
    code = fields.Char(required=True, index=True, help="Coupon code the customer types.")
    active = fields.Boolean(default=True)
    company_id = fields.Many2one("res.company", default=lambda self: self.env.company)
    currency_id = fields.Many2one(
        "res.currency", default=lambda self: self.env.company.currency_id, required=True
    )
    discount_type = fields.Selection(
        [("percent", "Percentage"), ("fixed", "Fixed amount")], required=True, default="percent"
    )
    discount_value = fields.Float(string="Discount", required=True)
    period_count = fields.Integer(
        string="Number of Periods",
        required=True,
        default=1,
        help="Invoices the discount applies to.",
    )
    plan_ids = fields.Many2many("rbm.plan", string="Eligible Plans", required=True)
    date_from = fields.Date(string="Valid From")
    date_to = fields.Date(string="Valid Until")
    max_redemptions = fields.Integer(help="0: no limit.")
    redemption_count = fields.Integer(compute="_compute_redemption_count")
    product_id = fields.Many2one(
        "product.product",
        string="Discount Product",
        required=True,
        default=lambda self: self.env.ref(
            "rbm_recurring.product_rbm_discount", raise_if_not_found=False
        ),
        help="Product of the discount lines (its income account and taxes apply).",
    )

    _sql_constraints = [
        ("code_company_uniq", "UNIQUE(code, company_id)", "A campaign code must be unique."),
        (
            "period_count_positive",
            "CHECK(period_count > 0)",
            "A campaign lasts one period or more.",
        ),
        ("discount_positive", "CHECK(discount_value > 0)", "The discount must be positive."),
    ]

    def _compute_redemption_count(self):
        data = self.env["rbm.contract"]._read_group(
            [("campaign_id", "in", self.ids), ("state", "!=", "draft")],
            ["campaign_id"],
            ["__count"],
        )
        counts = {campaign: count for campaign, count in data}
        for campaign in self:
            campaign.redemption_count = counts.get(campaign, 0)

    @api.constrains("discount_type", "discount_value")
    def _check_discount(self):
        for campaign in self:
            if campaign.discount_type == "percent" and campaign.discount_value > 100:
                raise ValidationError(
                    _(
                        "Campaign %(code)s: a percentage discount cannot exceed 100%% "
                        "(field Discount).",
                        code=campaign.code,
                    )
                )

    def _check_applicable(self, contract):
        """Raise when this campaign cannot be applied to ``contract``."""
        self.ensure_one()
        day = max(contract.date_start, fields.Date.context_today(self))
        if contract.plan_id not in self.plan_ids:
            raise ValidationError(
                _(
                    "Campaign %(code)s does not apply to the plan %(plan)s.",
                    code=self.code,
                    plan=contract.plan_id.display_name,
                )
            )
        if (self.date_from and day < self.date_from) or (self.date_to and day > self.date_to):
            raise ValidationError(_("Campaign %(code)s is not valid on this date.", code=self.code))
        redeemed = self.env["rbm.contract"].search_count(
            [("campaign_id", "=", self.id), ("state", "!=", "draft"), ("id", "!=", contract.id)]
        )
        if self.max_redemptions and redeemed >= self.max_redemptions:
            raise ValidationError(
                _(
                    "Campaign %(code)s has reached its limit of %(limit)s contracts.",
                    code=self.code,
                    limit=self.max_redemptions,
                )
            )

    def _get_discount(self, amount, currency):
        """Discount on a recurring ``amount`` (never more than the amount)."""
        self.ensure_one()
        if self.discount_type == "percent":
            discount = currency.round(amount * self.discount_value / 100.0)
        else:
            discount = self.discount_value
        return min(discount, amount)

    def _prepare_discount_line_vals(self, amount, quantum, number, lang):
        self.ensure_one()
        if self.discount_type == "percent":
            discount = periods.round_money(
                amount * periods.to_decimal(self.discount_value) / 100, quantum
            )
        else:
            discount = min(periods.to_decimal(self.discount_value), amount)
        env = self.with_context(lang=lang).env
        return {
            "display_type": "product",
            "product_id": self.product_id.id,
            "product_uom_id": self.product_id.uom_id.id,
            "name": env._(
                "Campaign %(code)s — %(name)s (period %(number)s of %(count)s)",
                code=self.code,
                name=self.with_context(lang=lang).name,
                number=number,
                count=self.period_count,
            ),
            "quantity": 1.0,
            "price_unit": -float(discount),
        }
