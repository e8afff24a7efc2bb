from odoo import models


class AccountMove(models.Model):
    _inherit = "account.move"

    def _post(self, soft=True):
        """Usage on a posted invoice is invoiced (it was rated on the draft)."""
        posted = super()._post(soft)
        self.env["rbm.usage"]._set_invoice_lines_state(
            posted.filtered("rbm_contract_id").invoice_line_ids, "rated", "invoiced"
        )
        return posted

    def button_draft(self):
        """Usage on an invoice reset to draft is rated again (still on it);
        a cancelled invoice takes back the usage it released."""
        cancelled = self.filtered(lambda move: move.state == "cancel" and move.rbm_contract_id)
        Usage = self.env["rbm.usage"]
        Usage._check_released_lines_reclaimable(cancelled.invoice_line_ids)
        self.env["rbm.usage.daily"]._check_lines_not_purged(
            self.filtered("rbm_contract_id").invoice_line_ids
        )
        result = super().button_draft()
        Usage._set_invoice_lines_state(
            self.filtered("rbm_contract_id").invoice_line_ids, "invoiced", "rated"
        )
        Usage._reclaim_released_lines(cancelled.invoice_line_ids)
        return result

    def button_cancel(self):
        """A cancelled invoice no longer bills its usage: the events go back
        to the next invoice of their contract."""
        result = super().button_cancel()
        cancelled = self.filtered(lambda move: move.state == "cancel")
        if cancelled:
            self.env["rbm.usage"]._release_invoice_lines(cancelled.invoice_line_ids)
        return result

    def _get_usage_statement_attachment(self):
        """The usage statement (PDF) of the period this invoice bills, for
        the invoice email when the plan asks for it; created once, then
        reused. Empty for other moves."""
        self.ensure_one()
        attachment = self.env["ir.attachment"]
        contract = self.rbm_contract_id
        if (
            self.move_type != "out_invoice"
            or not self.rbm_period_start
            or not contract.plan_id.usage_statement_on_invoice
            or not contract.line_ids.filtered("metric_id")
        ):
            return attachment
        period = {
            "start": self.rbm_period_start,
            "end": self.rbm_period_end or self.rbm_period_start,
            **contract._get_period_containing(self.rbm_period_start),
        }
        window = contract._get_usage_window(period)
        if not window:
            return attachment
        contract = contract.with_context(lang=self.partner_id.lang or self.env.lang)
        name = contract._get_usage_statement_filename(window["start"])
        existing = attachment.sudo().search(
            [("res_model", "=", self._name), ("res_id", "=", self.id), ("name", "=", name)],
            limit=1,
        )
        if existing:
            return existing
        pdf, _filename = contract._render_usage_statement_pdf(window["start"])
        return attachment.sudo().create(
            {
                "name": name,
                "raw": pdf,
                "mimetype": "application/pdf",
                "res_model": self._name,
                "res_id": self.id,
            }
        )
