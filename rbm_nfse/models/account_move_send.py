from odoo import api, models


class AccountMoveSend(models.AbstractModel):
    _inherit = "account.move.send"

    @api.model
    def _get_invoice_extra_attachments(self, move):
        """The invoice e-mail carries the DANFSe PDF and the NFS-e XML of its issued NFS-e
        (the attachments already on the invoice: sending again adds no copy)."""
        return super()._get_invoice_extra_attachments(move) | move._rbm_nfse_documents()
