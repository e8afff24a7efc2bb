from odoo import http
from odoo.exceptions import AccessError, MissingError
from odoo.http import request

from odoo.addons.rbm_recurring.controllers.portal import RbmSubscriptionChangePortal


class RbmCardPortal(RbmSubscriptionChangePortal):
    @http.route(
        ["/my/subscriptions/<int:contract_id>/card"],
        type="http",
        auth="user",
        website=True,
        methods=["POST"],
    )
    def portal_subscription_card(self, contract_id, access_token=None, token_id=None, **kw):
        """The customer picks one of their saved cards to pay the subscription."""
        try:
            contract_sudo = self._get_changeable_contract_sudo(contract_id, access_token)
        except (AccessError, MissingError):
            return request.redirect("/my")
        tokens_sudo = contract_sudo._rbm_get_portal_tokens()
        try:
            token_sudo = tokens_sudo.browse(int(token_id or 0))
        except ValueError:
            token_sudo = tokens_sudo.browse()
        if not token_sudo or token_sudo not in tokens_sudo:
            return request.redirect(f"/my/subscriptions/{contract_sudo.id}?card_error=1")
        contract_sudo._rbm_set_card(token_sudo, request.env.user.partner_id)
        return request.redirect(f"/my/subscriptions/{contract_sudo.id}?card_saved=1")
