from odoo import api, models


class AccountMoveSend(models.AbstractModel):
    _inherit = "account.move.send"

    @api.model
    def _get_invoice_extra_attachments(self, move):
        # the boleto PDF goes with the invoice PDF in the email
        return super()._get_invoice_extra_attachments(move) | move.rbm_boleto_pdf_id

    @api.model
    def _get_placeholder_mail_attachments_data(
        self, move, invoice_edi_format=None, extra_edis=None
    ):
        placeholders = super()._get_placeholder_mail_attachments_data(
            move, invoice_edi_format=invoice_edi_format, extra_edis=extra_edis
        )
        if not move.rbm_boleto_pdf_id and move._rbm_get_boletos_to_print():
            filename = move._rbm_boleto_pdf_filename()
            placeholders.append(
                {
                    "id": f"placeholder_{filename}",
                    "name": filename,
                    "mimetype": "application/pdf",
                    "placeholder": True,
                }
            )
        return placeholders

    @api.model
    def _generate_invoice_documents(self, invoices_data, allow_fallback_pdf=False):
        super()._generate_invoice_documents(invoices_data, allow_fallback_pdf=allow_fallback_pdf)
        invoices = self.env["account.move"].union(
            *(invoice for invoice, data in invoices_data.items() if not data.get("error"))
        )
        invoices._rbm_ensure_boleto_pdf()
