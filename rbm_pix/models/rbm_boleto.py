from odoo import api, models

from odoo.addons.rbm_dunning.models.rbm_boleto import _decimal

BOLETO_CLOSED_STATES = ("paid", "written_off", "rejected")


class RbmBoleto(models.Model):
    _inherit = "rbm.boleto"

    @api.model
    def _issue_for_lines(self, lines_by_account):
        """Boletos híbridos of a company with a default PSP connection get a dynamic
        charge per installment: once the charges cron sent it, the boleto shows its
        code (amount with fine, interest and discount) instead of the static one."""
        boletos = super()._issue_for_lines(lines_by_account)
        hybrid = boletos.sudo().filtered(lambda b: b.pix_payload and b.currency_id.name == "BRL")
        Connection = self.env["rbm.pix.connection"].sudo()
        for boleto in hybrid.filtered(lambda b: not b.move_id.rbm_collection_account_id):
            # the charge takes its fine, interest and discount from the invoice's account
            boleto.move_id.rbm_collection_account_id = boleto.collection_account_id
        for company in hybrid.company_id:
            connection = Connection._get_default_connection(company)
            if connection:
                lines = hybrid.filtered(lambda b, c=company: b.company_id == c).move_line_id
                self.env["rbm.pix.charge"].sudo()._create_for_installments(connection, lines)
        return boletos

    def _prepare_pix_payload(self, account, move_line, amount, our_number):
        """The boleto híbrido carries the installment's active dynamic charge (its fine,
        interest and discount), the static code otherwise."""
        charge = self.env["rbm.pix.charge"].sudo()._get_active_for_installment(move_line)
        if charge:
            return charge.pix_copy_paste
        return super()._prepare_pix_payload(account, move_line, amount, our_number)

    def _rbm_refresh_pix_payload(self):
        """Show on the open boletos the Pix code their installment has now (a charge
        became active, or was removed). Returns the boletos changed."""
        changed = self.browse()
        for boleto in self.sudo().filtered(lambda b: b.state not in BOLETO_CLOSED_STATES):
            payload = boleto._prepare_pix_payload(
                boleto.collection_account_id,
                boleto.move_line_id,
                _decimal(boleto.amount, boleto.currency_id),
                boleto.our_number,
            )
            if payload != boleto.pix_payload:
                boleto.pix_payload = payload
                changed |= boleto
        if changed:
            changed.move_id._rbm_reset_boleto_pdf()
        return changed
