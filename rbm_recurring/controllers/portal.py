from odoo import _, http
from odoo.exceptions import AccessError, MissingError, UserError, ValidationError
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


class RbmSubscriptionChangePortal(RbmCustomerPortal):
    """Changes and cancellation by the customer, with the same service (and
    preview) as the back office."""

    def _get_changeable_contract_sudo(self, contract_id, access_token=None):
        """The contract, when the logged-in customer owns it and it can change."""
        contract_sudo = self._document_check_access("rbm.contract", contract_id, access_token)
        user = request.env.user
        if user._is_public() or (
            contract_sudo.commercial_partner_id != user.partner_id.commercial_partner_id
        ):
            raise AccessError(_("Only the customer can change this subscription."))
        return contract_sudo

    def _get_portal_plans_sudo(self, contract_sudo):
        plan = contract_sudo.plan_id
        return (
            request.env["rbm.plan"]
            .sudo()
            .search(
                [
                    ("id", "!=", plan.id),
                    ("currency_id", "=", contract_sudo.currency_id.id),
                    ("company_id", "in", [contract_sudo.company_id.id, False]),
                    ("interval_unit", "=", plan.interval_unit),
                    ("interval", "=", plan.interval),
                    ("billing_mode", "=", plan.billing_mode),
                ]
            )
        )

    def _parse_change_request(self, contract_sudo, kw):
        """Arguments of ``rbm.contract.change._request`` from the form values;
        raises ValidationError naming the field on bad input."""
        kind = kw.get("kind")
        kwargs = {}

        def parse_quantity():
            try:
                return float(kw.get("quantity", ""))
            except ValueError:
                raise ValidationError(
                    _("The quantity must be a number (field Quantity).")
                ) from None

        def browse_id(model, key, allowed):
            try:
                record = request.env[model].sudo().browse(int(kw.get(key, 0)))
            except ValueError:
                record = request.env[model].sudo()
            if record not in allowed:
                raise ValidationError(_("Choose one of the options offered."))
            return record

        lines = contract_sudo.line_ids.filtered("is_current")
        if kind == "plan":
            kwargs["new_plan"] = browse_id(
                "rbm.plan", "new_plan_id", self._get_portal_plans_sudo(contract_sudo)
            )
        elif kind == "quantity":
            kwargs["line"] = browse_id("rbm.contract.line", "line_id", lines)
            kwargs["quantity"] = parse_quantity()
        elif kind == "addon_add":
            kwargs["product"] = browse_id(
                "product.product", "product_id", contract_sudo.plan_id.addon_product_ids
            )
            kwargs["quantity"] = parse_quantity()
        elif kind == "addon_remove":
            kwargs["line"] = browse_id("rbm.contract.line", "line_id", lines.filtered("is_addon"))
        else:
            raise ValidationError(_("Choose what to change."))
        return kind, kwargs

    def _rbm_portal_today(self, contract_sudo):
        """The customer's date today (their time zone, else the company's), so
        a change or cancellation asked for late in the evening is dated (and
        prorated) on the day the customer sees."""
        return contract_sudo.partner_id._rbm_get_today(contract_sudo.company_id)

    def _prepare_change_page_values(self, contract_sudo, form, error=False):
        return {
            "contract": contract_sudo,
            "plans": self._get_portal_plans_sudo(contract_sudo),
            "page_name": "rbm_subscription",
            "preview": False,
            "error": error,
            "form": form,
        }

    @http.route(
        ["/my/subscriptions/<int:contract_id>/change"],
        type="http",
        auth="user",
        website=True,
        methods=["GET"],
    )
    def portal_subscription_change(self, contract_id, access_token=None, **kw):
        try:
            contract_sudo = self._get_changeable_contract_sudo(contract_id, access_token)
        except (AccessError, MissingError):
            return request.redirect("/my")
        values = self._prepare_change_page_values(contract_sudo, kw)
        if kw.get("kind"):
            try:
                kind, kwargs = self._parse_change_request(contract_sudo, kw)
                values["preview"] = (
                    request.env["rbm.contract.change"]
                    .sudo()
                    ._prepare(
                        contract_sudo, kind, today=self._rbm_portal_today(contract_sudo), **kwargs
                    )
                )
            except (UserError, ValidationError) as error:
                values["error"] = error.args[0]
        return request.render("rbm_recurring.portal_subscription_change", values)

    @http.route(
        ["/my/subscriptions/<int:contract_id>/change"],
        type="http",
        auth="user",
        website=True,
        methods=["POST"],
    )
    def portal_subscription_change_confirm(self, contract_id, access_token=None, **kw):
        try:
            contract_sudo = self._get_changeable_contract_sudo(contract_id, access_token)
        except (AccessError, MissingError):
            return request.redirect("/my")
        try:
            kind, kwargs = self._parse_change_request(contract_sudo, kw)
            change_sudo = (
                request.env["rbm.contract.change"]
                .sudo()
                ._request(
                    contract_sudo, kind, today=self._rbm_portal_today(contract_sudo), **kwargs
                )
            )
        except (UserError, ValidationError) as error:
            values = self._prepare_change_page_values(contract_sudo, kw, error=error.args[0])
            return request.render("rbm_recurring.portal_subscription_change", values)
        contract_sudo.message_post(
            body=_("Change requested on the portal: %(change)s", change=change_sudo.description),
            author_id=request.env.user.partner_id.id,
            subtype_xmlid="mail.mt_note",
        )
        return request.redirect(f"/my/subscriptions/{contract_sudo.id}?changed=1")

    @http.route(
        ["/my/subscriptions/<int:contract_id>/cancel"],
        type="http",
        auth="user",
        website=True,
        methods=["GET", "POST"],
    )
    def portal_subscription_cancel(self, contract_id, access_token=None, **kw):
        try:
            contract_sudo = self._get_changeable_contract_sudo(contract_id, access_token)
        except (AccessError, MissingError):
            return request.redirect("/my")
        reasons = request.env["rbm.cancel.reason"].sudo().search([("portal_visible", "=", True)])
        values = {
            "contract": contract_sudo,
            "reasons": reasons,
            "page_name": "rbm_subscription",
            "error": False,
            "preview": False,
        }
        try:
            today = self._rbm_portal_today(contract_sudo)
            values["preview"] = contract_sudo._prepare_cancellation("period_end", today)
        except UserError as error:
            values["error"] = error.args[0]
            return request.render("rbm_recurring.portal_subscription_cancel", values)
        if request.httprequest.method == "POST":
            try:
                reason = reasons.browse(int(kw.get("reason_id") or 0))
            except ValueError:
                reason = reasons.browse()
            if reason not in reasons or not reason:
                values["error"] = _("Please tell us why you are leaving (field Reason).")
                return request.render("rbm_recurring.portal_subscription_cancel", values)
            contract_sudo._cancel(reason, "period_end", today=today, note=kw.get("note") or None)
            return request.redirect(f"/my/subscriptions/{contract_sudo.id}?cancelled=1")
        return request.render("rbm_recurring.portal_subscription_cancel", values)
