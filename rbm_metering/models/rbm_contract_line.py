from odoo import api, fields, models

from ..engine import rating
from .rbm_abstract_usage_pricing import USAGE_PRICE_DIGITS


class RbmContractLine(models.Model):
    _name = "rbm.contract.line"
    _inherit = ["rbm.contract.line", "rbm.usage.pricing.mixin", "rbm.usage.line.mixin"]

    line_type = fields.Selection(selection_add=[("usage", "Usage")], ondelete={"usage": "cascade"})
    # usage prices below a cent: the unit price keeps the usage precision
    price_unit = fields.Float(digits=USAGE_PRICE_DIGITS)
    tier_ids = fields.One2many("rbm.price.tier", "contract_line_id", string="Price Tiers")
    price_filter_ids = fields.One2many(
        "rbm.usage.price.filter", "contract_line_id", string="Prices by Property Value"
    )

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

    def _get_usage_allowance(self, window, pricing=None):
        """Allowance for the usage ``window`` (prorated in a partial period
        when the line says so) of the line or of its ``pricing`` (a price by
        property value)."""
        self.ensure_one()
        pricing = pricing or self
        if not pricing.allowance:
            return rating.ZERO
        days = (window["end"] - window["start"]).days + 1
        total = (window["full_end"] - window["full_start"]).days + 1
        return rating.prorate_allowance(
            rating.to_decimal(pricing.allowance),
            days,
            total,
            pricing.allowance_proration or "prorate",
            self.metric_id.rounding_digits,
        )

    def _rate_usage(self, quantity, window, quantum, count=0, amounts=None, pricing=None):
        """Price ``quantity`` of the line's metric used in ``window`` by
        ``count`` events (``amounts``: each event's quantity in timestamp
        order, for the percentage model's per-event rules), with the line's
        pricing or ``pricing`` (an ``rbm.usage.price.filter`` of the line).
        Exact in Decimal, rounded once to ``quantum``."""
        self.ensure_one()
        pricing = pricing or self
        allowance = self._get_usage_allowance(window, pricing)
        percentage = None
        if pricing.price_model == "percentage":
            percentage = pricing._get_percentage_terms()
            if amounts is None and rating.percentage_needs_events(percentage):
                raise ValueError(f"line {self.id}: the percentage rules need the events' amounts")
        result = rating.price_usage(
            quantity,
            pricing.price_model or "per_unit",
            unit_price=rating.to_decimal(pricing.price_unit),
            allowance=allowance,
            overage_price=rating.to_decimal(pricing.overage_price),
            tiers=pricing.tier_ids._get_engine_tiers(),
            package_size=rating.to_decimal(pricing.package_size or 1),
            minimum=rating.to_decimal(pricing.minimum_charge),
            quantum=quantum,
            percentage=percentage,
            amounts=amounts,
            count=count,
        )
        return result, allowance

    def _prepare_usage_invoice_line_vals(self, item, quantum, lang):
        """Invoice line of the usage rated in ``item`` (see
        ``rbm.contract._prepare_billing_state``), or ``False`` when there is
        nothing to show."""
        self.ensure_one()
        quantity = item["quantity"]
        pricing = item.get("filter")
        result, allowance = self._rate_usage(
            quantity, item["window"], quantum, item.get("count", 0), item.get("amounts"), pricing
        )
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
                name=self.with_context(lang=lang)._get_usage_item_label(item),
                usage=usage_text,
                period=period_text,
            ),
            # the invoice-line convention of usage: quantity 1 at the rated
            # amount, the usage quantity in the label (see the README)
            quantity=1.0,
            price_unit=float(result.amount),
            rbm_price_filter_id=pricing.id if pricing else False,
        )
        return vals

    def _get_usage_price_text(self):
        """The usage price as the portal shows it: the pricing model, and the
        price per unit with every decimal it has for the per-unit, package
        and allowance models (``Per unit: R$ 0,000125``)."""
        self.ensure_one()
        labels = dict(self._fields["price_model"]._description_selection(self.env))
        label = labels.get(self.price_model, "")
        field = {"per_unit": "price_unit", "package": "price_unit", "allowance": "overage_price"}
        if self.price_model not in field:
            return label
        lang = self.env.lang or "en_US"
        lang_data = self.env["res.lang"]._get_data(code=lang)
        number = rating.format_unit_price(
            rating.to_decimal(self[field[self.price_model]]),
            lang,
            decimal_point=lang_data.decimal_point if lang_data else None,
            thousands_sep=lang_data.thousands_sep if lang_data else None,
        )
        currency = self.currency_id or self.contract_id.currency_id
        if currency.position == "after":
            price = f"{number}\N{NO-BREAK SPACE}{currency.symbol}"
        else:
            price = f"{currency.symbol}\N{NO-BREAK SPACE}{number}"
        return self.env._("%(model)s: %(price)s", model=label, price=price)

    def _get_usage_item_label(self, item):
        """Name of the line, with the property value it prices for a line
        priced by an event property (see ``rbm.contract._expand_price_filters``)."""
        self.ensure_one()
        name = self.name or self.metric_id.name
        if not item.get("prop"):
            return name
        row = item.get("filter")
        if row:
            return self.env._(
                "%(name)s (%(property)s: %(value)s)",
                name=name,
                property=item["prop"],
                value=row.label or row.value,
            )
        return self.env._("%(name)s (%(property)s: other values)", name=name, property=item["prop"])
