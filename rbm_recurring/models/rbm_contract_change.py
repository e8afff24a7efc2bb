import math
from datetime import timedelta

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools.misc import format_date, formatLang

from ..engine import periods
from ..tools import check_staff_access

CHANGE_KINDS = [
    ("plan", "Plan change"),
    ("quantity", "Quantity change"),
    ("addon_add", "Add-on added"),
    ("addon_remove", "Add-on removed"),
]

# Largest quantity a change accepts: beyond it an amount loses its cents in a float.
MAX_QUANTITY = 1_000_000_000


class RbmContractChange(models.Model):
    """A change of plan, quantity or add-ons, applied now (with pro-rata) or
    scheduled for the end of the period. The same service serves the back
    office wizard, the portal and the API."""

    _name = "rbm.contract.change"
    _description = "Subscription Contract Change"
    _order = "date desc, id desc"
    _check_company_auto = True

    contract_id = fields.Many2one(
        "rbm.contract", required=True, ondelete="cascade", index=True, readonly=True
    )
    company_id = fields.Many2one(related="contract_id.company_id", store=True)
    currency_id = fields.Many2one(related="contract_id.currency_id")
    kind = fields.Selection(CHANGE_KINDS, required=True, readonly=True)
    direction = fields.Selection(
        [("upgrade", "Upgrade"), ("downgrade", "Downgrade")], readonly=True
    )
    date = fields.Date(string="Effective Date", required=True, readonly=True)
    state = fields.Selection(
        [("scheduled", "Scheduled"), ("applied", "Applied"), ("cancelled", "Cancelled")],
        default="scheduled",
        required=True,
        readonly=True,
    )
    new_plan_id = fields.Many2one("rbm.plan", readonly=True)
    line_id = fields.Many2one("rbm.contract.line", string="Line", readonly=True)
    product_id = fields.Many2one("product.product", string="Add-on", readonly=True)
    quantity = fields.Float(digits="Product Unit of Measure", readonly=True)
    description = fields.Char(readonly=True)
    mrr_before = fields.Monetary(string="MRR Before", readonly=True)
    mrr_after = fields.Monetary(string="MRR After", readonly=True)
    credit_amount = fields.Monetary(readonly=True)
    charge_amount = fields.Monetary(readonly=True)
    move_ids = fields.One2many("account.move", "rbm_change_id", string="Documents")
    charge_ids = fields.One2many("rbm.contract.charge", "change_id", string="Charges")

    # ------------------------------------------------------------
    # PREPARATION (shared by the preview and the application)
    # ------------------------------------------------------------

    @api.model
    def _prepare(
        self,
        contract,
        kind,
        new_plan=None,
        line=None,
        quantity=None,
        product=None,
        timing=None,
        today=None,
        self_service=False,
    ):
        """Validate a requested change and describe it without writing anything.
        ``self_service``: asked by the customer (portal, or a portal user over
        RPC), who is held to the plan's self-service rules as well.

        Returns a dict: kind, direction, date, timing, close (lines to end the
        day before ``date``), create (values of the new lines), amounts (the
        prorated credits and charges when the change is effective inside an
        invoiced period), mrr_before/mrr_after and a description."""
        today = today or fields.Date.context_today(self)
        contract.ensure_one()
        if contract.state not in ("active", "suspended", "trial"):
            raise UserError(
                _(
                    "Contract %(contract)s cannot be changed in its current state.",
                    contract=contract.display_name,
                )
            )
        lines = contract.line_ids.filtered("is_current")
        close = self.env["rbm.contract.line"]
        create = []
        notes = []
        plan = contract.plan_id
        if kind in ("quantity", "addon_add") and quantity is not None:
            self._check_quantity_value(contract, quantity)
        if self_service:
            self._check_self_service(contract, kind, new_plan, line, quantity, product, timing)
        if kind == "plan":
            if not new_plan or new_plan == plan:
                raise ValidationError(
                    _(
                        "Contract %(contract)s: choose a plan other than the current one (field "
                        "Plan).",
                        contract=contract.display_name,
                    )
                )
            self._check_plan_compatible(contract, new_plan)
            close = lines.filtered(lambda ln: not ln.is_addon and ln.line_type == "recurring")
            # add-ons go on when the new plan offers them, else they end with
            # the old plan; fee installments left go on
            addons = lines.filtered(lambda ln: ln.is_addon and ln.line_type == "recurring")
            ended = addons.filtered(lambda ln: ln.product_id not in new_plan.addon_product_ids)
            close |= ended
            for addon in addons - ended:
                notes.append(
                    _(
                        "Add-on %(addon)s is kept: plan %(plan)s offers it.",
                        addon=addon.name,
                        plan=new_plan.display_name,
                    )
                )
            for addon in ended:
                notes.append(
                    _(
                        "Add-on %(addon)s ends with the change: plan %(plan)s does not offer it.",
                        addon=addon.name,
                        plan=new_plan.display_name,
                    )
                )
            for fee in lines.filtered(
                lambda ln: ln.line_type == "one_time" and ln.installments > ln.installments_invoiced
            ):
                notes.append(
                    _(
                        "%(fee)s: the %(left)s installments left are still billed.",
                        fee=fee.name,
                        left=fee.installments - fee.installments_invoiced,
                    )
                )
            create = [
                pl._prepare_contract_line_vals()
                for pl in new_plan.line_ids.filtered(lambda pl: pl.line_type == "recurring")
            ]
            description = _(
                "Plan %(old)s → %(new)s", old=plan.display_name, new=new_plan.display_name
            )
        elif kind == "quantity":
            if not line or line not in lines or line.line_type != "recurring":
                raise ValidationError(
                    _(
                        "Contract %(contract)s: choose one of its current recurring lines "
                        "(field Line).",
                        contract=contract.display_name,
                    )
                )
            if quantity is None or quantity < 0:
                raise ValidationError(
                    _(
                        "Contract %(contract)s, line %(line)s: the new quantity must be zero or "
                        "more (field Quantity).",
                        contract=contract.display_name,
                        line=line.name,
                    )
                )
            if quantity == line.quantity:
                raise ValidationError(_("The new quantity is the current one."))
            close = line
            if quantity:
                create = [line._prepare_copy_vals(quantity=quantity)]
            description = _(
                "%(line)s: quantity %(old)s → %(new)s",
                line=line.name,
                old=formatLang(self.env, line.quantity),
                new=formatLang(self.env, quantity),
            )
        elif kind == "addon_add":
            if not product or product not in plan.addon_product_ids:
                raise ValidationError(
                    _(
                        "%(product)s is not an add-on allowed by the plan %(plan)s (field Add-on).",
                        product=product.display_name if product else "-",
                        plan=plan.display_name,
                    )
                )
            quantity = quantity or 1.0
            if quantity <= 0:
                raise ValidationError(_("The add-on quantity must be positive (field Quantity)."))
            create = [
                {
                    "product_id": product.id,
                    "name": product.display_name,
                    "line_type": "recurring",
                    "quantity": quantity,
                    "price_unit": product.lst_price,
                    "is_addon": True,
                }
            ]
            description = _("Add-on %(product)s added", product=product.display_name)
        elif kind == "addon_remove":
            if not line or line not in lines or not line.is_addon:
                raise ValidationError(
                    _(
                        "Contract %(contract)s: choose one of its current add-on lines (field "
                        "Line).",
                        contract=contract.display_name,
                    )
                )
            close = line
            description = _("Add-on %(product)s removed", product=line.name)
        else:
            raise ValidationError(_("Unknown change %(kind)s.", kind=kind))

        mrr_before = contract.mrr
        recurring_after, mrr_after = self._estimate_mrr(contract, close, create, new_plan or plan)
        direction = "upgrade" if mrr_after > mrr_before else "downgrade"
        if not timing or timing == "auto":
            timing = plan.upgrade_timing if direction == "upgrade" else plan.downgrade_timing
        date = self._get_effective_date(contract, timing, today)
        if contract.date_end and date > contract.date_end:
            raise UserError(
                _(
                    "Contract %(contract)s ends on %(date)s, before the change would apply.",
                    contract=contract.display_name,
                    date=format_date(self.env, contract.date_end),
                )
            )
        amounts = self._compute_amounts(contract, close, create, date, new_plan)
        return {
            "kind": kind,
            "direction": direction,
            "timing": timing,
            "date": date,
            "close": close,
            "create": create,
            "new_plan": new_plan,
            "line": line,
            "product": product,
            "quantity": quantity,
            "amounts": amounts,
            "mrr_before": mrr_before,
            "mrr_after": mrr_after,
            "recurring_after": recurring_after,
            "description": description,
            "notes": notes,
        }

    @api.model
    def _check_quantity_value(self, contract, quantity):
        """A quantity must be a finite number a price can be multiplied by to
        the cent (not NaN, infinity, text or a huge number)."""
        if (
            isinstance(quantity, bool)
            or not isinstance(quantity, (int, float))
            or not math.isfinite(quantity)
        ):
            raise ValidationError(
                _(
                    "Contract %(contract)s: the quantity must be a number (field Quantity).",
                    contract=contract.display_name,
                )
            )
        if quantity > MAX_QUANTITY:
            raise ValidationError(
                _(
                    "Contract %(contract)s: the quantity must be at most %(max)s (field Quantity).",
                    contract=contract.display_name,
                    max=formatLang(self.env, MAX_QUANTITY, digits=0),
                )
            )

    @api.model
    def _check_self_service(self, contract, kind, new_plan, line, quantity, product, timing):
        """The rules a customer is held to on the portal (and over RPC): plans
        offered for self-service in the family or upgrade path, quantities
        within the plan line's bounds, base lines never removed, add-ons the
        plan offers, the plan's timing."""
        plan = contract.plan_id
        if timing not in (None, False, "auto"):
            raise ValidationError(
                _(
                    "Contract %(contract)s: the plan decides when a change you make applies "
                    "(field Timing).",
                    contract=contract.display_name,
                )
            )
        if kind == "plan":
            allowed = self.env["rbm.plan"].search(
                plan._get_self_service_domain(contract.company_id)
            )
            if new_plan and new_plan != plan and new_plan not in allowed:
                raise ValidationError(
                    _(
                        "Contract %(contract)s: plan %(plan)s is not offered to you (field "
                        "Plan); choose one of the plans offered for self-service in the "
                        "family or upgrade path of %(current)s.",
                        contract=contract.display_name,
                        plan=new_plan.display_name,
                        current=plan.display_name,
                    )
                )
        elif kind == "quantity" and line and quantity is not None:
            if line.is_addon:
                low, high = 1.0, plan.addon_max_quantity
            elif line.plan_line_id.plan_id == plan and line.plan_line_id.portal_editable:
                low = line.plan_line_id.portal_min_quantity
                high = line.plan_line_id.portal_max_quantity
            else:
                raise ValidationError(
                    _(
                        "Contract %(contract)s, line %(line)s: you cannot change this quantity "
                        "(field Quantity).",
                        contract=contract.display_name,
                        line=line.name,
                    )
                )
            self._check_quantity_bounds(contract, line.name, quantity, low, high)
        elif kind == "addon_add" and product:
            current = contract.line_ids.filtered(
                lambda ln: ln.is_current and ln.is_addon and ln.product_id == product
            )
            if current:
                raise ValidationError(
                    _(
                        "Contract %(contract)s already has the add-on %(product)s: change its "
                        "quantity instead (field Add-on).",
                        contract=contract.display_name,
                        product=product.display_name,
                    )
                )
            self._check_quantity_bounds(
                contract,
                product.display_name,
                1.0 if quantity is None else quantity,
                1.0,
                plan.addon_max_quantity,
            )
        elif kind == "addon_remove" and line and not line.is_addon:
            raise ValidationError(
                _(
                    "Contract %(contract)s, line %(line)s: a line of the plan cannot be removed "
                    "(field Line).",
                    contract=contract.display_name,
                    line=line.name,
                )
            )

    @api.model
    def _check_quantity_bounds(self, contract, name, quantity, low, high):
        if not low <= quantity <= high:
            raise ValidationError(
                _(
                    "Contract %(contract)s, %(line)s: the quantity must be between %(low)s "
                    "and %(high)s (field Quantity).",
                    contract=contract.display_name,
                    line=name,
                    low=formatLang(self.env, low),
                    high=formatLang(self.env, high),
                )
            )

    @api.model
    def _check_plan_compatible(self, contract, new_plan):
        plan = contract.plan_id
        if new_plan.company_id and new_plan.company_id != contract.company_id:
            raise ValidationError(
                _(
                    "Plan %(plan)s belongs to another company than contract %(contract)s.",
                    plan=new_plan.display_name,
                    contract=contract.display_name,
                )
            )
        if new_plan.currency_id != contract.currency_id:
            raise ValidationError(
                _(
                    "Plan %(plan)s is in %(currency)s, contract %(contract)s in %(own)s: "
                    "a change cannot switch currencies.",
                    plan=new_plan.display_name,
                    currency=new_plan.currency_id.name,
                    contract=contract.display_name,
                    own=contract.currency_id.name,
                )
            )
        same_period = (new_plan.interval_unit, new_plan.interval, new_plan.billing_mode) == (
            plan.interval_unit,
            plan.interval,
            plan.billing_mode,
        )
        if not same_period:
            raise ValidationError(
                _(
                    "Plan %(plan)s is billed %(period)s (%(mode)s); the contract is billed "
                    "%(own_period)s (%(own_mode)s). Changes keep the billing period: close this "
                    "contract and start a new one instead.",
                    plan=new_plan.display_name,
                    period=new_plan.period_label,
                    mode=dict(new_plan._fields["billing_mode"]._description_selection(self.env))[
                        new_plan.billing_mode
                    ],
                    own_period=plan.period_label,
                    own_mode=dict(plan._fields["billing_mode"]._description_selection(self.env))[
                        plan.billing_mode
                    ],
                )
            )

    @api.model
    def _estimate_mrr(self, contract, close, create, plan):
        total = sum((contract._get_current_recurring_lines() - close).mapped("subtotal"))
        total += sum(
            contract.currency_id.round(vals["quantity"] * vals["price_unit"])
            for vals in create
            if vals.get("line_type", "recurring") == "recurring"
        )
        mrr = contract._get_mrr_of(
            total, plan=plan, with_campaign=contract.campaign_periods_left > 0
        )
        return total, mrr

    @api.model
    def _get_effective_date(self, contract, timing, today):
        if timing == "now":
            return max(today, contract.date_start)
        period = contract._get_period_containing(max(today, contract.date_start))
        return period["full_end"] + timedelta(days=1)

    @api.model
    def _compute_amounts(self, contract, close, create, date, new_plan=None):
        """Prorated credits (negative) and charges (positive) for a change
        effective on ``date`` inside a period that was already invoiced in
        advance. In arrears, or when the period is not invoiced yet, the
        billing run splits the period between old and new lines by itself."""
        plan = contract.plan_id
        if plan.billing_mode != "advance" or not contract._is_invoiced_on(date):
            return []
        period = contract._get_period_containing(date)
        end = min(period["full_end"], contract.date_end or period["full_end"])
        quantum = contract._get_quantum()
        lang = contract.partner_id.lang or self.env.lang
        text = contract._format_period({"start": date, "end": end}, lang)
        env = self.with_context(lang=lang).env
        amounts = []
        for line in close.filtered(lambda ln: ln.line_type == "recurring"):
            start = max(date, line.date_start or date)
            if start > end:
                continue
            part = line._get_prorated_amount(
                period["full_start"], period["full_end"], start, end, quantum
            )
            if part:
                amounts.append(
                    {
                        "product": line.product_id,
                        "name": env._("Unused %(name)s — %(period)s", name=line.name, period=text),
                        "amount": -part,
                    }
                )
        for vals in create:
            if vals.get("line_type", "recurring") != "recurring":
                continue
            full = periods.round_money(
                periods.to_decimal(vals["quantity"]) * periods.to_decimal(vals["price_unit"]),
                quantum,
            )
            part = contract._prorate(
                full, period["full_start"], period["full_end"], date, end, quantum
            )
            if part:
                amounts.append(
                    {
                        "product": self.env["product.product"].browse(vals["product_id"]),
                        "name": env._("%(name)s — %(period)s", name=vals["name"], period=text),
                        "amount": part,
                    }
                )
        return amounts

    # ------------------------------------------------------------
    # APPLICATION
    # ------------------------------------------------------------

    @api.model
    def _request(self, contract, kind, today=None, **kwargs):
        """Validate and record a change; apply it now when it is effective
        today, else schedule it (the billing run applies it on its date)."""
        today = today or fields.Date.context_today(self)
        prepared = self._prepare(contract, kind, today=today, **kwargs)
        change = self.create(
            {
                "contract_id": contract.id,
                "kind": kind,
                "direction": prepared["direction"],
                "date": prepared["date"],
                "new_plan_id": prepared["new_plan"].id if prepared["new_plan"] else False,
                "line_id": prepared["line"].id if prepared["line"] else False,
                "product_id": prepared["product"].id if prepared["product"] else False,
                "quantity": prepared["quantity"] or 0.0,
                "description": prepared["description"],
                "mrr_before": prepared["mrr_before"],
                "mrr_after": prepared["mrr_after"],
            }
        )
        if prepared["date"] <= today:
            change._apply(today)
        else:
            contract.message_post(
                body=_(
                    "Change scheduled for %(date)s: %(change)s",
                    date=format_date(self.env, prepared["date"]),
                    change=prepared["description"],
                ),
                subtype_xmlid="mail.mt_note",
            )
        return change

    def _apply(self, today=None):
        """Apply scheduled or immediate changes: end the replaced lines the day
        before the change, create the new ones, settle the prorated amounts."""
        today = today or fields.Date.context_today(self)
        for change in self.filtered(lambda c: c.state == "scheduled").sorted("date"):
            contract = change.contract_id
            prepared = self._prepare(
                contract,
                change.kind,
                new_plan=change.new_plan_id,
                line=change.line_id,
                quantity=change.quantity if change.kind in ("quantity", "addon_add") else None,
                product=change.product_id,
                timing="now",
                today=change.date,
            )
            reason = {
                "plan": change.direction,
                "quantity": "quantity",
                "addon_add": "addon",
                "addon_remove": "addon",
            }[change.kind]
            events_sudo = self.env["rbm.provisioning.event"].sudo()
            previous = {contract.id: events_sudo._prepare_contract_snapshot(contract)}
            with contract._track_mrr(reason, date=change.date):
                prepared["close"].write({"date_end": change.date - timedelta(days=1)})
                contract.write(
                    {
                        "line_ids": [
                            fields.Command.create({**vals, "date_start": change.date})
                            for vals in prepared["create"]
                        ],
                        **({"plan_id": change.new_plan_id.id} if change.kind == "plan" else {}),
                    }
                )
            change._settle(prepared["amounts"])
            change.write(
                {
                    "state": "applied",
                    "mrr_after": contract.mrr,
                    "credit_amount": -sum(
                        a["amount"] for a in prepared["amounts"] if a["amount"] < 0
                    ),
                    "charge_amount": sum(
                        a["amount"] for a in prepared["amounts"] if a["amount"] > 0
                    ),
                }
            )
            contract.message_post(
                body=Markup("<p>%s</p>")
                % _("Change applied: %(change)s", change=change.description),
                subtype_xmlid="mail.mt_note",
            )
            if change.kind == "plan":
                events_sudo._emit(contract, "plan_changed", previous=previous)
        return True

    def _settle(self, amounts):
        """Credits and charges per plan policy: documents now, or one-off
        charges on the next invoice."""
        self.ensure_one()
        contract = self.contract_id
        plan = contract.plan_id
        credits = [a for a in amounts if a["amount"] < 0]
        charges = [a for a in amounts if a["amount"] > 0]
        now_docs = []
        if credits:
            if plan.credit_policy == "credit_note":
                now_docs.append(("out_refund", [{**a, "amount": -a["amount"]} for a in credits]))
            else:
                self._create_charges(credits)
        if charges:
            if plan.charge_policy == "invoice_now":
                now_docs.append(("out_invoice", charges))
            else:
                self._create_charges(charges)
        for move_type, items in now_docs:
            contract._create_document(move_type, items, self.date, change=self)

    def _create_charges(self, items):
        self.ensure_one()
        self.env["rbm.contract.charge"].create(
            [
                {
                    "contract_id": self.contract_id.id,
                    "change_id": self.id,
                    "date": self.date,
                    "product_id": item["product"].id,
                    "name": item["name"],
                    "amount": float(item["amount"]),
                }
                for item in items
            ]
        )

    def action_cancel(self):
        check_staff_access(self, "write")
        for change in self:
            if change.state != "scheduled":
                raise UserError(_("Only scheduled changes can be cancelled."))
        self.write({"state": "cancelled"})
        return True
