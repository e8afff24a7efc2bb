from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools.misc import format_date, formatLang

from ..tools import check_staff_access


class RbmPriceAdjustmentWizard(models.TransientModel):
    _name = "rbm.price.adjustment.wizard"
    _description = "Adjust Contract Prices by Index"

    date = fields.Date(
        required=True,
        default=fields.Date.context_today,
        help="Each contract is adjusted for its latest anniversary on or before this date "
        "that is not adjusted yet.",
    )
    contract_ids = fields.Many2many(
        "rbm.contract",
        string="Contracts",
        default=lambda self: self._default_contract_ids(),
    )
    preview = fields.Html(compute="_compute_preview", sanitize=False)
    ready_count = fields.Integer(compute="_compute_preview")
    error_count = fields.Integer(compute="_compute_preview")

    @api.model
    def _default_contract_ids(self):
        if self.env.context.get("active_model") == "rbm.contract":
            return self.env["rbm.contract"].browse(self.env.context.get("active_ids") or [])
        return self.env["rbm.contract"]

    @api.depends("date", "contract_ids")
    def _compute_preview(self):
        for wizard in self:
            rows = wizard._get_preview()
            wizard.preview = wizard._render_preview(rows)
            wizard.ready_count = sum(1 for row in rows if row["status"] in ("ready", "skip"))
            wizard.error_count = sum(1 for row in rows if row["status"] == "error")

    def _get_preview(self):
        """One dict per contract: what applying would do (``status`` ready, skip,
        nothing or error, with the anniversary, the computation and a message)."""
        self.ensure_one()
        rows = []
        adjustable = self.env["rbm.contract"]._get_adjustable_states()
        for contract in self.contract_ids._origin:
            row = {"contract": contract, "anniversary": False, "data": False, "message": ""}
            anniversary = self.date and contract._get_due_adjustment_anniversary(self.date)
            if contract.state not in adjustable:
                row.update(status="nothing", message=_("The contract is not running."))
            elif not anniversary:
                row.update(
                    status="nothing",
                    message=_(
                        "No anniversary left to adjust up to %(date)s.",
                        date=format_date(self.env, self.date),
                    ),
                )
            else:
                row["anniversary"] = anniversary
                try:
                    row["data"] = contract._prepare_price_adjustment(anniversary)
                except UserError as error:
                    row.update(status="error", message=str(error.args[0]))
                else:
                    row["message"] = row["data"]["skip_reason"] or ""
                    row["status"] = "skip" if row["data"]["skip_reason"] else "ready"
            rows.append(row)
        return rows

    def _render_preview(self, rows):
        if not rows:
            return False
        env = self.env
        status_labels = {
            "ready": _("To adjust"),
            "skip": _("Unchanged"),
            "nothing": _("Nothing to do"),
            "error": _("Cannot adjust"),
        }
        body = Markup()
        for row in rows:
            contract, data = row["contract"], row["data"]
            prices = Markup()
            if data:
                prices = Markup("<br/>").join(
                    Markup("%s: %s → %s")
                    % (
                        line.name,
                        formatLang(
                            env, float(old), dp="Product Price", currency_obj=contract.currency_id
                        ),
                        formatLang(
                            env, float(new), dp="Product Price", currency_obj=contract.currency_id
                        ),
                    )
                    for line, old, new in data["lines"]
                )
            adjustment = self.env["rbm.price.adjustment"]
            body += Markup(
                "<tr><td>%s</td><td>%s</td><td>%s</td><td class='text-end'>%s</td>"
                "<td class='text-end'>%s</td><td>%s</td><td>%s</td></tr>"
            ) % (
                contract.display_name,
                format_date(env, row["anniversary"]) if row["anniversary"] else "",
                data["index"].display_name if data else contract.price_index_id.display_name or "",
                adjustment._format_percent(float(data["variation"])) if data else "",
                adjustment._format_percent(float(data["applied"])) if data else "",
                prices,
                Markup("<strong>%s</strong> %s") % (status_labels[row["status"]], row["message"]),
            )
        return Markup(
            "<table class='table table-sm o_rbm_adjustment_preview'><thead><tr>"
            "<th>%s</th><th>%s</th><th>%s</th><th class='text-end'>%s</th>"
            "<th class='text-end'>%s</th><th>%s</th><th>%s</th></tr></thead><tbody>%s</tbody>"
            "</table>"
        ) % (
            _("Contract"),
            _("Anniversary"),
            _("Index"),
            _("Accumulated"),
            _("Applied"),
            _("Prices"),
            _("Status"),
            body,
        )

    def action_apply(self):
        """Adjust every contract of the preview; when any of them cannot be
        adjusted nothing is changed."""
        check_staff_access(self, "write")
        self.ensure_one()
        if self.date > fields.Date.context_today(self):
            raise UserError(_("Prices can only be adjusted for anniversaries that have come."))
        rows = self._get_preview()
        errors = [row for row in rows if row["status"] == "error"]
        if errors:
            raise UserError(
                _(
                    "Nothing was adjusted; these contracts cannot be adjusted:\n%(errors)s",
                    errors="\n".join(row["message"] for row in errors),
                )
            )
        todo = [row for row in rows if row["status"] in ("ready", "skip")]
        if not todo:
            raise UserError(
                _(
                    "None of the selected contracts has an anniversary to adjust up to %(date)s.",
                    date=format_date(self.env, self.date),
                )
            )
        adjustments = self.env["rbm.price.adjustment"]
        for row in todo:
            adjustments |= row["contract"]._apply_price_adjustment(row["anniversary"])
        action = self.env["ir.actions.actions"]._for_xml_id(
            "rbm_recurring.rbm_price_adjustment_action"
        )
        action["domain"] = [("id", "in", adjustments.ids)]
        action["context"] = {}
        return action
