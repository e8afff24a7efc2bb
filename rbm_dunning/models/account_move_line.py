from collections import defaultdict

from odoo import models

from .rbm_boleto import PAYABLE_STATES


class AccountMoveLine(models.Model):
    _inherit = "account.move.line"

    def write(self, vals):
        res = super().write(vals)
        if "date_maturity" in vals and not self.env.context.get("rbm_boleto_sync"):
            self._rbm_follow_due_dates()
        return res

    def _reconcile_plan_with_sync(self, plan_list, all_amls):
        res = super()._reconcile_plan_with_sync(plan_list, all_amls)
        # a return file settles its boletos itself (state paid)
        if not self.env.context.get("rbm_cnab_settling"):
            all_amls._rbm_follow_residuals()
        # a contract suspended for non-payment is reactivated once its last
        # overdue invoice is paid, whatever paid it
        contracts = all_amls.move_id.filtered(
            lambda m: m.move_type == "out_invoice" and m.rbm_contract_id
        ).rbm_contract_id
        if contracts:
            self.env["account.move"]._rbm_collection_reactivate_settled(contracts=contracts)
        return res

    # ------------------------------------------------------------
    # BOLETOS FOLLOW THEIR INSTALLMENTS
    # ------------------------------------------------------------

    def _rbm_get_payable_boletos(self):
        """Boletos the customer can still pay for these installment lines."""
        lines = self.filtered(
            lambda line: (
                line.display_type == "payment_term"
                and line.move_id.move_type == "out_invoice"
                and line.account_id.account_type == "asset_receivable"
            )
        )
        if not lines:
            return self.env["rbm.boleto"]
        return (
            self.env["rbm.boleto"]
            .sudo()
            .search([("move_line_id", "in", lines.ids), ("state", "in", PAYABLE_STATES)])
        )

    def _rbm_follow_due_dates(self):
        """A new due date on an installment moves its boleto's due date (a
        due-date change instruction for a boleto at the bank)."""
        boletos = self._rbm_get_payable_boletos()
        by_date = defaultdict(lambda: self.env["rbm.boleto"])
        for boleto in boletos:
            due = boleto.move_line_id.date_maturity
            if due and due != boleto.due_date:
                by_date[due] |= boleto
        for due, todo in by_date.items():
            todo.with_context(rbm_boleto_sync=True).write({"due_date": due})

    def _rbm_follow_residuals(self):
        """After a reconciliation by other means than the boleto (manual
        payment, credit note, outstanding credit): a boleto whose installment
        is now settled is written off (a write-off instruction when the bank
        has it); one whose installment's open amount changed is written off
        and replaced by a boleto of the open amount."""
        boletos = self._rbm_get_payable_boletos()
        if not boletos:
            return
        settled = boletos.filtered(lambda b: b.move_line_id.reconciled)
        changed = (boletos - settled).filtered(
            lambda b: b.currency_id.compare_amounts(
                abs(b.move_line_id.amount_residual_currency), b.amount
            )
        )
        if not settled and not changed:
            return
        (settled | changed)._write_off()
        lines_by_account = defaultdict(lambda: self.env["account.move.line"])
        for boleto in changed:
            if boleto.move_line_id.amount_residual_currency > 0:
                lines_by_account[boleto.collection_account_id] |= boleto.move_line_id
        self.env["rbm.boleto"]._issue_for_lines(lines_by_account)
        (settled | changed).move_id._rbm_reset_boleto_pdf()
