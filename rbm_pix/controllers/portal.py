"""Pix Automático on the customer's subscription page: authorize, see the QR code and the
copy-and-paste code, refresh the status. Only the contract's own customer (logged in, same
commercial partner) may act; everything else is redirected to ``/my``."""

from odoo import http
from odoo.exceptions import AccessError, MissingError, UserError
from odoo.http import request

from odoo.addons.rbm_recurring.controllers.portal import RbmSubscriptionChangePortal


class RbmPixPortal(RbmSubscriptionChangePortal):
    @http.route(
        ["/my/subscriptions/<int:contract_id>/pix_automatico"],
        type="http",
        auth="user",
        website=True,
        methods=["POST"],
    )
    def portal_subscription_pix_automatico(self, contract_id, access_token=None, **kw):
        """The customer asks for a Pix Automático authorization (journey 2)."""
        try:
            contract_sudo = self._get_changeable_contract_sudo(contract_id, access_token)
        except (AccessError, MissingError):
            return request.redirect("/my")
        try:
            contract_sudo._rbm_pix_authorize_sudo(request.env.user.partner_id)
        except UserError as error:
            return self._render_refusal(contract_sudo, error.args[0])
        return request.redirect(f"/my/subscriptions/{contract_sudo.id}#rbm_pix_automatico")

    @http.route(
        ["/my/subscriptions/<int:contract_id>/pix_automatico/refresh"],
        type="http",
        auth="user",
        website=True,
        methods=["POST"],
    )
    def portal_subscription_pix_automatico_refresh(self, contract_id, access_token=None, **kw):
        """Read the authorization awaiting the payer back from the PSP."""
        try:
            contract_sudo = self._get_changeable_contract_sudo(contract_id, access_token)
        except (AccessError, MissingError):
            return request.redirect("/my")
        auth_sudo = contract_sudo.rbm_pix_authorization_id
        if auth_sudo.state == "created" and auth_sudo.id_rec:
            auth_sudo._run("_poll", auto_commit=False)
        return request.redirect(f"/my/subscriptions/{contract_sudo.id}#rbm_pix_automatico")
