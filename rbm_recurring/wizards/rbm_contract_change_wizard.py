from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools.misc import format_date, formatLang

from ..models.rbm_contract_change import CHANGE_KINDS
from ..tools import check_staff_access


class RbmContractChangeWizard(models.TransientModel):
    _name = "rbm.contract.change.wizard"
    _description = "Change a Subscription Contract"

    contract_id = fields.Many2one("rbm.contract", required=True, readonly=True)
    plan_id = fields.Many2one(related="contract_id.plan_id")
    currency_id = fields.Many2one(related="contract_id.currency_id")
    kind = fields.Selection(CHANGE_KINDS, string="Change", required=True, default="plan")
    new_plan_id = fields.Many2one(
        "rbm.plan",
        string="New Plan",
        domain="[('id', '!=', plan_id), ('currency_id', '=', currency_id)]",
    )
    line_id = fields.Many2one(
        "rbm.contract.line",
        string="Line",
        domain="[('contract_id', '=', contract_id), ('date_end', '=', False), "
        "('line_type', '=', 'recurring')]",
    )
    addon_product_id = fields.Many2one("product.product", string="Add-on")
    allowed_addon_ids = fields.Many2many(related="contract_id.plan_id.addon_product_ids")
    quantity = fields.Float(digits="Product Unit of Measure", default=1.0)
    timing = fields.Selection(
        [
            ("auto", "Plan policy"),
            ("now", "Immediately, with pro-rata"),
            ("period_end", "At the end of the period"),
        ],
        required=True,
        default="auto",
    )
    effective_date = fields.Date(compute="_compute_preview")
    preview = fields.Html(compute="_compute_preview", sanitize=False)
    error = fields.Char(compute="_compute_preview")

    @api.onchange("line_id")
    def _onchange_line_id(self):
        if self.line_id and self.kind == "quantity":
            self.quantity = self.line_id.quantity

    def _get_request_kwargs(self):
        self.ensure_one()
        kwargs = {"timing": self.timing}
        if self.kind == "plan":
            kwargs["new_plan"] = self.new_plan_id
        elif self.kind == "quantity":
            kwargs.update(line=self.line_id, quantity=self.quantity)
        elif self.kind == "addon_add":
            kwargs.update(product=self.addon_product_id, quantity=self.quantity)
        else:
            kwargs["line"] = self.line_id
        return kwargs

    @api.depends(
        "contract_id", "kind", "new_plan_id", "line_id", "addon_product_id", "quantity", "timing"
    )
    def _compute_preview(self):
        Change = self.env["rbm.contract.change"]
        for wizard in self:
            wizard.effective_date = False
            wizard.preview = False
            wizard.error = False
            if not wizard.contract_id:
                continue
            try:
                prepared = Change._prepare(
                    wizard.contract_id, wizard.kind, **wizard._get_request_kwargs()
                )
            except (UserError, ValidationError) as error:
                wizard.error = str(error.args[0]) if error.args else str(error)
                continue
            wizard.effective_date = prepared["date"]
            wizard.preview = wizard._render_preview(prepared)

    def _split_now_and_next(self, prepared):
        """(amount invoiced now, amount of the next invoice) of a change:
        the pro-rata goes to one or the other by the plan's policies; the
        next invoice also bills the new price of the period."""
        plan = self.contract_id.plan_id
        now = next_invoice = 0.0
        for item in prepared["amounts"]:
            amount = float(item["amount"])
            if (amount < 0 and plan.credit_policy == "credit_note") or (
                amount >= 0 and plan.charge_policy == "invoice_now"
            ):
                now += amount
            else:
                next_invoice += amount
        currency = self.contract_id.currency_id
        return currency.round(now), currency.round(
            next_invoice + float(prepared["recurring_after"])
        )

    def _render_preview(self, prepared):
        contract = self.contract_id
        currency = contract.currency_id
        plan = contract.plan_id

        def money(value):
            return formatLang(self.env, float(value), currency_obj=currency)

        rows = Markup("")
        for item in prepared["amounts"]:
            amount = float(item["amount"])
            if amount < 0:
                how = (
                    _("credit note now")
                    if plan.credit_policy == "credit_note"
                    else _("deducted on the next invoice")
                )
            else:
                how = (
                    _("invoiced now")
                    if plan.charge_policy == "invoice_now"
                    else _("added to the next invoice")
                )
            rows += Markup(
                "<tr><td>%s</td><td class='text-end'>%s</td><td class='text-muted'>%s</td></tr>"
            ) % (item["name"], money(amount), how)
        total = sum(float(item["amount"]) for item in prepared["amounts"])
        html = Markup("<p><strong>%s</strong></p>") % prepared["description"]
        for note in prepared.get("notes", []):
            html += Markup("<p class='o_rbm_change_note'>%s</p>") % note
        html += Markup("<p>%s</p>") % _(
            "Effective %(date)s (%(direction)s). MRR %(before)s → %(after)s.",
            date=format_date(self.env, prepared["date"]),
            direction=dict(
                self.env["rbm.contract.change"]
                ._fields["direction"]
                ._description_selection(self.env)
            )[prepared["direction"]],
            before=money(prepared["mrr_before"]),
            after=money(prepared["mrr_after"]),
        )
        if rows:
            html += (
                Markup(
                    "<table class='table table-sm'><thead><tr><th>%s</th>"
                    "<th class='text-end'>%s</th><th>%s</th></tr></thead><tbody>"
                )
                % (_("Pro-rata"), _("Amount"), _("How"))
                + rows
                + Markup(
                    "</tbody><tfoot><tr><th>%s</th><th class='text-end'>%s</th><th/></tr>"
                    "</tfoot></table>"
                )
                % (_("Net"), money(total))
            )
            now, next_invoice = self._split_now_and_next(prepared)
            html += Markup("<p class='o_rbm_change_totals'>%s</p>") % _(
                "The customer pays %(now)s now; the next invoice is %(next)s.",
                now=money(now),
                next=money(next_invoice),
            )
        elif plan.billing_mode == "arrears":
            html += Markup("<p class='text-muted'>%s</p>") % _(
                "Billed in arrears: the invoice of the period will split it between the old "
                "and the new prices."
            )
        else:
            html += Markup("<p class='text-muted'>%s</p>") % _(
                "Nothing to prorate: the change starts with a period that is not invoiced yet."
            )
        return html

    def action_confirm(self):
        check_staff_access(self, "write")
        self.ensure_one()
        change = self.env["rbm.contract.change"]._request(
            self.contract_id, self.kind, **self._get_request_kwargs()
        )
        return {
            "type": "ir.actions.act_window",
            "res_model": "rbm.contract",
            "res_id": change.contract_id.id,
            "view_mode": "form",
            "target": "current",
        }
