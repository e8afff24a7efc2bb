from decimal import Decimal

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import float_is_zero

from ..engine import periods


class RbmContractLine(models.Model):
    _name = "rbm.contract.line"
    _inherit = ["rbm.product.line.mixin"]
    _description = "Subscription Contract Line"
    _order = "contract_id, sequence, id"
    _check_company_auto = True

    contract_id = fields.Many2one("rbm.contract", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="contract_id.company_id", store=True)
    currency_id = fields.Many2one(related="contract_id.currency_id")
    name = fields.Char(required=True)
    date_start = fields.Date(
        string="From", help="First day this line is billed (empty: from the contract start)."
    )
    date_end = fields.Date(
        string="Until",
        help="Last day this line is billed; set when a change replaces or removes it.",
    )
    is_addon = fields.Boolean(string="Add-on")
    plan_line_id = fields.Many2one(
        "rbm.plan.line",
        string="Plan Line",
        ondelete="set null",
        readonly=True,
        help="The plan line this line comes from: it says whether the customer may change "
        "its quantity from the portal, and within which bounds.",
    )
    is_current = fields.Boolean(
        compute="_compute_is_current",
        search="_search_is_current",
        help="Not replaced nor removed by a change.",
    )
    installments = fields.Integer(
        default=1, help="One-time fees: number of invoices the fee is split over."
    )
    subtotal = fields.Monetary(store=True)
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

    @api.depends("date_end")
    def _compute_is_current(self):
        for line in self:
            line.is_current = not line.date_end

    def _search_is_current(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            raise NotImplementedError(operator)
        current = (operator == "=") == value
        return [("date_end", "=" if current else "!=", False)]

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

    def _prepare_copy_vals(self, **changes):
        """Values of a new version of this line (a change replaces lines)."""
        self.ensure_one()
        return {
            "sequence": self.sequence,
            "product_id": self.product_id.id,
            "name": self.name,
            "line_type": self.line_type,
            "quantity": self.quantity,
            "price_unit": self.price_unit,
            "installments": self.installments,
            "is_addon": self.is_addon,
            "plan_line_id": self.plan_line_id.id,
            **changes,
        }

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

    def _get_amount(self, quantum):
        """Price of the line for a full period, rounded to the currency."""
        self.ensure_one()
        return periods.round_money(
            periods.to_decimal(self.quantity) * periods.to_decimal(self.price_unit), quantum
        )

    def _get_prorated_amount(self, full_start, full_end, start, end, quantum):
        """Part of the line's price for ``[start, end]`` of the period
        ``[full_start, full_end]`` (plan day count; parts always add up)."""
        self.ensure_one()
        return self.contract_id._prorate(
            self._get_amount(quantum), full_start, full_end, start, end, quantum
        )

    def _prepare_recurring_invoice_line_vals(self, period, period_text, quantum):
        """Invoice line for the part of ``period`` this line is valid in, or
        ``False`` when the line is not valid in it."""
        self.ensure_one()
        start = max(period["start"], self.date_start or period["start"])
        end = min(period["end"], self.date_end or period["end"])
        if start > end:
            return False
        if (start, end) != (period["start"], period["end"]):
            lang = self.contract_id.partner_id.lang or self.env.lang
            period_text = self.contract_id._format_period({"start": start, "end": end}, lang)
        vals = self._prepare_invoice_line_base_vals()
        vals["name"] = _("%(name)s — %(period)s", name=self.name, period=period_text)
        if (start, end) == (period["full_start"], period["full_end"]):
            vals.update(quantity=self.quantity, price_unit=self.price_unit)
            return vals
        part = self._get_prorated_amount(
            period["full_start"], period["full_end"], start, end, quantum
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
        part = periods.split_amount(self._get_amount(quantum), count, quantum)[done]
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
