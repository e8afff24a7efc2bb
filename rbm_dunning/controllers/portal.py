import re

from odoo import http
from odoo.exceptions import AccessError, MissingError
from odoo.http import content_disposition, request

from odoo.addons.account.controllers.portal import PortalAccount


class RbmDunningPortal(PortalAccount):
    def _invoice_get_page_view_values(self, invoice, access_token, **kwargs):
        values = super()._invoice_get_page_view_values(invoice, access_token, **kwargs)
        # invoice is the sudo record whose access was checked by the caller
        if invoice.payment_state not in ("paid", "in_payment", "reversed"):
            values["rbm_boletos"] = invoice.sudo()._rbm_get_boletos_to_print()
        if invoice.sudo()._rbm_show_pix():
            values["rbm_pix_invoice"] = invoice.sudo()
        return values

    @http.route(["/my/invoices/<int:invoice_id>/boleto"], type="http", auth="public", website=True)
    def portal_my_invoice_boleto(self, invoice_id, access_token=None, **kw):
        """The boleto PDF of an invoice the visitor may see (login or token)."""
        try:
            invoice_sudo = self._document_check_access("account.move", invoice_id, access_token)
        except (AccessError, MissingError):
            return request.redirect("/my")
        boletos_sudo = invoice_sudo._rbm_get_boletos_to_print()
        if not boletos_sudo:
            return request.redirect(invoice_sudo.get_portal_url())
        pdf, _report_type = (
            request.env["ir.actions.report"]
            .sudo()
            .with_company(invoice_sudo.company_id)
            ._render_qweb_pdf("rbm_dunning.action_report_boleto", boletos_sudo.ids)
        )
        filename = "Boleto-{}.pdf".format(re.sub(r"\W+", "_", invoice_sudo.name or ""))
        return request.make_response(
            pdf,
            headers=[
                ("Content-Type", "application/pdf"),
                ("Content-Length", len(pdf)),
                ("Content-Disposition", content_disposition(filename)),
            ],
        )
