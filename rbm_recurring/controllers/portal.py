from odoo import _, http
from odoo.exceptions import AccessError, MissingError
from odoo.http import request

from odoo.addons.portal.controllers.portal import CustomerPortal
from odoo.addons.portal.controllers.portal import pager as portal_pager


class RbmCustomerPortal(CustomerPortal):
    _items_per_page = 20

    def _prepare_home_portal_values(self, counters):
        values = super()._prepare_home_portal_values(counters)
        if "rbm_contract_count" in counters:
            Contract = request.env["rbm.contract"]
            values["rbm_contract_count"] = (
                Contract.search_count(self._prepare_rbm_contracts_domain())
                if Contract.has_access("read")
                else 0
            )
        return values

    def _prepare_rbm_contracts_domain(self):
        partner = request.env.user.partner_id
        return [
            ("commercial_partner_id", "=", partner.commercial_partner_id.id),
            ("state", "!=", "draft"),
        ]

    def _get_rbm_searchbar_sortings(self):
        return {
            "date": {"label": _("Start Date"), "order": "date_start desc, id desc"},
            "name": {"label": _("Number"), "order": "name"},
            "next": {"label": _("Next Invoice"), "order": "next_invoice_date"},
        }

    @http.route(
        ["/my/subscriptions", "/my/subscriptions/page/<int:page>"],
        type="http",
        auth="user",
        website=True,
    )
    def portal_my_subscriptions(self, page=1, sortby=None, **kw):
        Contract = request.env["rbm.contract"]
        values = self._prepare_portal_layout_values()
        domain = self._prepare_rbm_contracts_domain()
        sortings = self._get_rbm_searchbar_sortings()
        if sortby not in sortings:
            sortby = "date"
        pager = portal_pager(
            url="/my/subscriptions",
            url_args={"sortby": sortby},
            total=Contract.search_count(domain),
            page=page,
            step=self._items_per_page,
        )
        contracts = Contract.search(
            domain,
            order=sortings[sortby]["order"],
            limit=self._items_per_page,
            offset=pager["offset"],
        )
        values.update(
            {
                "contracts": contracts,
                "page_name": "rbm_subscriptions",
                "pager": pager,
                "default_url": "/my/subscriptions",
                "searchbar_sortings": sortings,
                "sortby": sortby,
            }
        )
        return request.render("rbm_recurring.portal_my_subscriptions", values)

    @http.route(["/my/subscriptions/<int:contract_id>"], type="http", auth="public", website=True)
    def portal_my_subscription(self, contract_id, access_token=None, **kw):
        try:
            contract_sudo = self._document_check_access("rbm.contract", contract_id, access_token)
        except (AccessError, MissingError):
            return request.redirect("/my")
        invoices_sudo = contract_sudo.invoice_ids.filtered(lambda m: m.state == "posted").sorted(
            lambda m: (m.invoice_date or m.date, m.id), reverse=True
        )
        values = self._get_page_view_values(
            contract_sudo,
            access_token,
            {
                "contract": contract_sudo,
                "invoices": invoices_sudo,
                "next_amount": contract_sudo._get_next_invoice_preview(),
                "page_name": "rbm_subscription",
            },
            "my_rbm_contracts_history",
            False,
        )
        return request.render("rbm_recurring.portal_my_subscription", values)
