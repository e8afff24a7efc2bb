from decimal import Decimal

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import float_is_zero

from ..engine import periods


class RbmContractLine(models.Model):
    _name = "rbm.contract.line"
    _description = "Subscription Contract Line"
    _order = "contract_id, sequence, id"
    _check_company_auto = True

    contract_id = fields.Many2one("rbm.contract", required=True, ondelete="cascade", index=True)
    sequence = fields.Integer(default=10)
    company_id = fields.Many2one(related="contract_id.company_id", store=True)
    currency_id = fields.Many2one(related="contract_id.currency_id")
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
        required=True,
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
    installments = fields.Integer(
        default=1, help="One-time fees: number of invoices the fee is split over."
    )
    subtotal = fields.Monetary(
        compute="_compute_subtotal", store=True, currency_field="currency_id"
    )
    invoice_line_ids = fields.One2many("account.move.line", "rbm_contract_line_id")
    installments_invoiced = fields.Integer(
        string="Installments Invoiced",
        compute="_compute_installments_invoiced",
        help="One-time fees: installments already on invoices that are not cancelled.",
    )

    _sql_constraints = [
        (
            "installments_positive",
            "CHECK(installments > 0)",
            "A one-time fee needs at least one installment.",
        ),
    ]

    @api.depends("product_id")
    def _compute_name(self):
        for line in self:
            if line.product_id:
                line.name = line.product_id.display_name

    @api.depends("product_id")
    def _compute_line_type(self):
        for line in self:
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

    def _compute_installments_invoiced(self):
        done = self._get_installments_invoiced()
        for line in self:
            line.installments_invoiced = done.get(line, 0) if line.line_type == "one_time" else 0

    @api.constrains("quantity")
    def _check_quantity(self):
        for line in self:
            if line.quantity < 0:
                raise ValidationError(
                    _(
                        "Contract %(contract)s, line %(line)s: the quantity must not be "
                        "negative (field Quantity).",
                        contract=line.contract_id.display_name,
                        line=line.name,
                    )
                )

    # ------------------------------------------------------------
    # BILLING
    # ------------------------------------------------------------

    def _get_installments_invoiced(self):
        """{line: number of its installments on invoices that are not cancelled}."""
        result = dict.fromkeys(self, 0)
        if not self:
            return result
        data = self.env["account.move.line"]._read_group(
            [
                ("rbm_contract_line_id", "in", self.ids),
                ("parent_state", "!=", "cancel"),
                ("display_type", "=", "product"),
            ],
            ["rbm_contract_line_id"],
            ["__count"],
        )
        for line, count in data:
            result[line] = count
        return result

    def _amount_to_line_vals(self, amount, quantum):
        """Quantity and unit price giving exactly ``amount``: the contract
        quantity when the unit price comes out exact, else quantity 1."""
        self.ensure_one()
        quantity = periods.to_decimal(self.quantity)
        if quantity and not float_is_zero(self.quantity, precision_digits=6):
            digits = self.env["decimal.precision"].precision_get("Product Price")
            unit = (amount / quantity).quantize(Decimal(1).scaleb(-digits))
            if periods.round_money(unit * quantity, quantum) == amount:
                return {"quantity": self.quantity, "price_unit": float(unit)}
        return {"quantity": 1.0, "price_unit": float(amount)}

    def _prepare_invoice_line_base_vals(self):
        self.ensure_one()
        return {
            "display_type": "product",
            "product_id": self.product_id.id,
            "product_uom_id": self.product_id.uom_id.id,
            "rbm_contract_line_id": self.id,
        }

    def _prepare_recurring_invoice_line_vals(self, period, period_text, quantum):
        self.ensure_one()
        plan = self.contract_id.plan_id
        vals = self._prepare_invoice_line_base_vals()
        vals["name"] = _("%(name)s — %(period)s", name=self.name, period=period_text)
        full_period = (
            period["start"] == period["full_start"] and period["end"] == period["full_end"]
        )
        if full_period:
            vals.update(quantity=self.quantity, price_unit=self.price_unit)
            return vals
        amount = periods.round_money(
            periods.to_decimal(self.quantity) * periods.to_decimal(self.price_unit), quantum
        )
        part = periods.prorate_interval(
            amount,
            period["full_start"],
            period["full_end"],
            period["start"],
            period["end"],
            plan.interval_unit,
            plan.interval,
            plan.proration_day_count,
            quantum,
        )
        vals.update(self._amount_to_line_vals(part, quantum))
        if vals["quantity"] != self.quantity:
            vals["name"] = _(
                "%(name)s (%(quantity)s) — %(period)s",
                name=self.name,
                quantity=self.quantity,
                period=period_text,
            )
        return vals

    def _prepare_fee_invoice_line_vals(self, installments_done, quantum, lang):
        """Next installment of a one-time fee, or ``False`` when all are billed."""
        self.ensure_one()
        done = installments_done.get(self, 0)
        count = self.installments or 1
        if done >= count:
            return False
        amount = periods.round_money(
            periods.to_decimal(self.quantity) * periods.to_decimal(self.price_unit), quantum
        )
        part = periods.split_amount(amount, count, quantum)[done]
        installments_done[self] = done + 1
        vals = self._prepare_invoice_line_base_vals()
        vals.update(self._amount_to_line_vals(part, quantum))
        if count > 1:
            env = self.with_context(lang=lang).env
            vals["name"] = env._(
                "%(name)s — installment %(number)s of %(count)s",
                name=self.name,
                number=done + 1,
                count=count,
            )
        else:
            vals["name"] = self.name
        return vals
