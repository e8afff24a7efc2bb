from werkzeug.exceptions import Forbidden, NotFound

from odoo import http
from odoo.exceptions import AccessError, MissingError
from odoo.http import content_disposition, request

from odoo.addons.account.controllers.portal import PortalAccount

# the NFS-e a customer sees on the invoice page
PORTAL_STATES = ("issued", "cancelled")


class NfsePortal(PortalAccount):
    def _invoice_get_page_view_values(self, invoice, access_token, **kwargs):
        values = super()._invoice_get_page_view_values(invoice, access_token, **kwargs)
        # invoice is the record whose access the caller checked
        nfse = invoice.sudo().rbm_nfse_id
        if nfse.state in PORTAL_STATES and nfse.nfse_attachment_id:
            values["rbm_nfse"] = nfse
        return values

    @http.route(
        ["/my/invoices/<int:invoice_id>/nfse/<any(danfse,xml):kind>"],
        type="http",
        auth="public",
        website=True,
    )
    def portal_my_invoice_nfse(self, invoice_id, kind, access_token=None, **kw):
        """The DANFSe PDF or the NFS-e XML of an invoice the visitor may see: its customer
        (logged in) or the holder of its access token; anyone else gets a 403, an invoice
        that does not exist or has no issued NFS-e a 404."""
        try:
            invoice_sudo = self._document_check_access("account.move", invoice_id, access_token)
        except MissingError as error:
            raise NotFound() from error
        except AccessError as error:
            raise Forbidden() from error
        nfse_sudo = invoice_sudo.rbm_nfse_id
        if nfse_sudo.state not in PORTAL_STATES or not nfse_sudo.nfse_attachment_id:
            raise NotFound()
        if kind == "xml":
            attachment = nfse_sudo.nfse_attachment_id
            mimetype = "application/xml"
        else:
            attachment = invoice_sudo._rbm_nfse_attach_danfse(nfse_sudo)
            mimetype = "application/pdf"
        if not attachment:
            raise NotFound()
        content = attachment.raw
        return request.make_response(
            content,
            headers=[
                ("Content-Type", mimetype),
                ("Content-Length", len(content)),
                ("Content-Disposition", content_disposition(attachment.name)),
                ("X-Content-Type-Options", "nosniff"),
            ],
        )
