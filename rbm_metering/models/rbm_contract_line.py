from odoo import api, fields, models

from ..engine import rating


class RbmContractLine(models.Model):
    _name = "rbm.contract.line"
    _inherit = ["rbm.contract.line", "rbm.usage.pricing.mixin"]

    line_type = fields.Selection(selection_add=[("usage", "Usage")], ondelete={"usage": "cascade"})
    tier_ids = fields.One2many("rbm.price.tier", "contract_line_id", string="Price Tiers")

    @api.depends("product_id", "metric_id")
    def _compute_line_type(self):
        usage = self.filtered("metric_id")
        usage.line_type = "usage"
        super(RbmContractLine, self - usage)._compute_line_type()

    @api.depends("quantity", "price_unit", "line_type")
    def _compute_subtotal(self):
        usage = self.filtered(lambda line: line.line_type == "usage")
        usage.subtotal = 0.0
        super(RbmContractLine, self - usage)._compute_subtotal()

    def _prepare_copy_vals(self, **changes):
        vals = self._get_usage_pricing_vals()
        vals.update(changes)
        return super()._prepare_copy_vals(**vals)

    def _prepare_fee_invoice_line_vals(self, installments_done, quantum, lang):
        # usage lines are billed by the rating (rbm.contract._prepare_extra_invoice_line_vals)
        if self.line_type == "usage":
            return False
        return super()._prepare_fee_invoice_line_vals(installments_done, quantum, lang)

    # ------------------------------------------------------------
    # RATING
    # ------------------------------------------------------------

    def _get_usage_allowance(self, window):
        """Allowance for the usage ``window`` (prorated in a partial period
        when the line says so)."""
        self.ensure_one()
        if not self.allowance:
            return rating.ZERO
        days = (window["end"] - window["start"]).days + 1
        total = (window["full_end"] - window["full_start"]).days + 1
        return rating.prorate_allowance(
            rating.to_decimal(self.allowance),
            days,
            total,
            self.allowance_proration or "prorate",
            self.metric_id.rounding_digits,
        )

    def _rate_usage(self, quantity, window, quantum):
        """Price ``quantity`` of the line's metric used in ``window``."""
        self.ensure_one()
        allowance = self._get_usage_allowance(window)
        result = rating.price_usage(
            quantity,
            self.price_model or "per_unit",
            unit_price=rating.to_decimal(self.price_unit),
            allowance=allowance,
            overage_price=rating.to_decimal(self.overage_price),
            tiers=self.tier_ids._get_engine_tiers(),
            package_size=rating.to_decimal(self.package_size or 1),
            minimum=rating.to_decimal(self.minimum_charge),
            quantum=quantum,
        )
        return result, allowance

    def _prepare_usage_invoice_line_vals(self, item, quantum, lang):
        """Invoice line of the usage rated in ``item`` (see
        ``rbm.contract._prepare_billing_state``), or ``False`` when there is
        nothing to show."""
        self.ensure_one()
        quantity = item["quantity"]
        result, allowance = self._rate_usage(quantity, item["window"], quantum)
        if not (item["count"] or quantity or result.amount):
            return False
        contract = self.contract_id
        metric = self.metric_id
        lang_data = self.env["res.lang"]._get_data(code=lang)
        usage_text = rating.format_usage(
            quantity,
            metric.unit_label or "",
            allowance,
            lang=lang,
            max_digits=metric.rounding_digits,
            decimal_point=lang_data.decimal_point if lang_data else None,
            thousands_sep=lang_data.thousands_sep if lang_data else None,
        )
        period_text = contract._format_period(item["window"], lang)
        vals = self._prepare_invoice_line_base_vals()
        env = self.with_context(lang=lang).env
        vals.update(
            name=env._(
                "%(name)s — %(usage)s — %(period)s",
                name=self.name,
                usage=usage_text,
                period=period_text,
            ),
            quantity=1.0,
            price_unit=float(result.amount),
        )
        return vals
