from odoo import api, models


class AccountMoveSend(models.AbstractModel):
    _inherit = "account.move.send"

    @api.model
    def _get_invoice_extra_attachments(self, move):
        """The invoice e-mail carries the DANFSe PDF and the NFS-e XML of its issued NFS-e
        (the attachments already on the invoice: sending again adds no copy). Also read by
        the chatter of the invoice form (a read-only request): nothing is rendered here."""
        return super()._get_invoice_extra_attachments(move) | move._rbm_nfse_documents(render=False)

    @api.model
    def _get_mail_params(self, move, move_data):
        """At sending (a read/write transaction), the DANFSe the run has not attached yet is
        rendered now, so the e-mail never leaves without it."""
        move._rbm_nfse_documents()
        return super()._get_mail_params(move, move_data)
