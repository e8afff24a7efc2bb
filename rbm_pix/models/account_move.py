from odoo import fields, models

from odoo.addons.rbm_dunning.models.rbm_boleto import _decimal
from odoo.addons.rbm_recurring.tools import check_staff_access


class AccountMove(models.Model):
    _inherit = "account.move"

    rbm_pix_charge_ids = fields.One2many(
        "rbm.pix.charge", "move_id", string="Dynamic Pix Charges", readonly=True
    )
    rbm_pix_cycle_charge_ids = fields.One2many(
        "rbm.pix.cycle.charge", "move_id", string="Pix Automático Charges", readonly=True
    )

    def _rbm_issue_pix(self, force=False):
        """After the static code (the fallback), a dynamic charge per open installment
        when the company has a default PSP connection. The charges are sent by the
        charges cron, after this transaction commits."""
        issued = super()._rbm_issue_pix(force=force)
        moves = self.filtered(
            lambda m: (
                m.state == "posted"
                and m.move_type == "out_invoice"
                and m.rbm_pix_txid
                and m.currency_id.name == "BRL"
                and (m in issued or force or m._rbm_wants_pix())
            )
        )
        Connection = self.env["rbm.pix.connection"].sudo()
        for company in moves.company_id:
            connection = Connection._get_default_connection(company)
            if not connection:
                continue
            installments = moves.filtered(lambda m, c=company: m.company_id == c).line_ids
            installments = installments.filtered(
                lambda line: (
                    line.display_type == "payment_term"
                    and line.account_id.account_type == "asset_receivable"
                    and not line.reconciled
                    and line.amount_residual > 0
                )
            )
            self.env["rbm.pix.charge"].sudo()._create_for_installments(connection, installments)
        # Pix Automático: a cycle charge per open installment, sent by its cron
        self.env["rbm.pix.cycle.charge"].sudo()._create_for_moves(self)
        return issued

    def button_draft(self):
        """A reset to draft (cancelling goes through here too) removes the invoice's
        dynamic Pix charges at the PSP (by the charges cron)."""
        check_staff_access(self, "write")
        result = super().button_draft()
        charges = self.sudo().rbm_pix_charge_ids
        if charges:
            charges._cancel()
            charges.move_id._rbm_restore_static_pix()
        self.sudo().rbm_pix_cycle_charge_ids._cancel()
        return result

    def _rbm_get_card_token(self, token=None):
        """Pix Automático with the saved card as fallback: the contract's card charges
        the installments whose cycle charge failed."""
        self.ensure_one()
        contract = self.rbm_contract_id
        if (
            not token
            and contract.payment_mode == "pix_automatico"
            and contract.rbm_pix_fallback == "card"
            and self.sudo().rbm_pix_cycle_charge_ids.filtered(lambda c: c.fallback == "card")
        ):
            return contract.sudo().payment_token_id
        return super()._rbm_get_card_token(token=token)

    def _rbm_get_shown_pix_charge(self):
        """The active charge whose code the invoice shows: the earliest open one."""
        self.ensure_one()
        charges = self.sudo().rbm_pix_charge_ids.filtered(
            lambda c: c.state == "active" and c.pix_copy_paste
        )
        return charges.sorted(lambda c: (c.due_date, c.id))[:1]

    def _rbm_show_pix_charge(self):
        """The invoice's Pix code (PDF, portal, email) becomes its charge's."""
        for move in self:
            charge = move._rbm_get_shown_pix_charge()
            if charge and move.rbm_pix_payload != charge.pix_copy_paste:
                move.sudo().rbm_pix_payload = charge.pix_copy_paste

    def _rbm_restore_static_pix(self):
        """Back to the static code of the amount due (no active charge any more)."""
        for move in self:
            if move._rbm_get_shown_pix_charge():
                move._rbm_show_pix_charge()
                continue
            account = move.sudo().rbm_collection_account_id
            if not (move.rbm_pix_txid and account and account.pix_key):
                continue
            if move.currency_id.compare_amounts(move.amount_residual, 0) <= 0:
                continue  # nothing left to pay: the code shown does not matter any more
            amount = _decimal(move.amount_residual, move.currency_id)
            move.sudo().rbm_pix_payload = account._get_pix_payload(amount, move.rbm_pix_txid)
