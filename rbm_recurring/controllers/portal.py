import math
import uuid

from odoo import _, fields, http
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
                "commitment_text": contract_sudo._get_commitment_info(
                    contract_sudo.partner_id._rbm_get_today(contract_sudo.company_id)
                )["text"],
                "page_name": "rbm_subscription",
            },
            "my_rbm_contracts_history",
            False,
        )
        return request.render("rbm_recurring.portal_my_subscription", values)


class RbmSubscriptionChangePortal(RbmCustomerPortal):
    """Changes and cancellation by the customer, through the service methods
    integrators call (``rbm.contract.request_change`` / ``request_cancellation``),
    as the logged-in user: the right to manage the contract and the plan's
    self-service rules are checked there, not only here."""

    _change_fields = ("kind", "new_plan_id", "line_id", "product_id", "quantity")

    def _get_changeable_contract_sudo(self, contract_id, access_token=None):
        """The contract, when the logged-in customer's company owns it."""
        contract_sudo = self._document_check_access("rbm.contract", contract_id, access_token)
        user = request.env.user
        if user._is_public() or (
            contract_sudo.commercial_partner_id != user.partner_id.commercial_partner_id
        ):
            raise AccessError(_("Only the customer can change this subscription."))
        return contract_sudo

    def _render_refusal(self, contract_sudo, error):
        values = {"contract": contract_sudo, "page_name": "rbm_subscription", "error": error}
        return request.render("rbm_recurring.portal_subscription_refused", values, status=403)

    def _get_portal_plans_sudo(self, contract_sudo):
        return (
            request.env["rbm.plan"]
            .sudo()
            .search(contract_sudo.plan_id._get_self_service_domain(contract_sudo.company_id))
        )

    def _parse_record_id(self, contract_sudo, kw, key, field):
        """An id from the form, or a message naming the contract and field."""
        value = (kw.get(key) or "").strip()
        if not (value.isdigit() and len(value) <= 10 and 0 < int(value) < 2**31):
            raise ValidationError(
                _(
                    "Contract %(contract)s: choose one of the options offered (field %(field)s).",
                    contract=contract_sudo.display_name,
                    field=field,
                )
            )
        return int(value)

    def _parse_quantity(self, contract_sudo, kw):
        """A quantity from the form: a finite number, not negative (the service
        checks the plan's bounds and the largest quantity), or a message naming
        the contract and field."""
        try:
            quantity = float((kw.get("quantity") or "").strip())
        except ValueError:
            quantity = math.nan
        if not math.isfinite(quantity):
            raise ValidationError(
                _(
                    "Contract %(contract)s: the quantity must be a number (field Quantity).",
                    contract=contract_sudo.display_name,
                )
            )
        if quantity < 0:
            raise ValidationError(
                _(
                    "Contract %(contract)s: the quantity must be zero or more (field Quantity).",
                    contract=contract_sudo.display_name,
                )
            )
        return quantity

    def _parse_change_request(self, contract_sudo, kw):
        """Arguments of ``rbm.contract.request_change`` from the form values;
        raises ValidationError naming the contract and field on bad input."""
        kind = kw.get("kind")
        if kind == "plan":
            plan_id = self._parse_record_id(contract_sudo, kw, "new_plan_id", _("Plan"))
            return {"kind": kind, "new_plan_id": plan_id}
        if kind == "quantity":
            return {
                "kind": kind,
                "line_id": self._parse_record_id(contract_sudo, kw, "line_id", _("Line")),
                "quantity": self._parse_quantity(contract_sudo, kw),
            }
        if kind == "addon_add":
            return {
                "kind": kind,
                "product_id": self._parse_record_id(contract_sudo, kw, "product_id", _("Add-on")),
                "quantity": self._parse_quantity(contract_sudo, kw),
            }
        if kind == "addon_remove":
            line_id = self._parse_record_id(contract_sudo, kw, "line_id", _("Line"))
            return {"kind": kind, "line_id": line_id}
        raise ValidationError(_("Choose what to change."))

    def _check_request_key(self, contract_sudo, kw):
        if not kw.get("request_key"):
            raise ValidationError(
                _(
                    "Contract %(contract)s: this form is out of date, check the amounts and "
                    "confirm again (field Request Key).",
                    contract=contract_sudo.display_name,
                )
            )
        return kw["request_key"]

    def _prepare_change_page_values(self, contract_sudo, kw, error=False):
        return {
            "contract": contract_sudo,
            "plans": self._get_portal_plans_sudo(contract_sudo),
            "page_name": "rbm_subscription",
            "preview": False,
            "error": error,
            "form": {key: kw[key] for key in self._change_fields if kw.get(key)},
            "request_key": uuid.uuid4().hex,
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
        contract = request.env["rbm.contract"].browse(contract_sudo.id)
        try:
            contract._check_customer_right(request.env.user)
        except AccessError as error:
            return self._render_refusal(contract_sudo, error.args[0])
        values = self._prepare_change_page_values(contract_sudo, kw)
        if kw.get("kind"):
            try:
                args = self._parse_change_request(contract_sudo, kw)
                preview = contract.request_change(**args, preview=True)
                preview["date"] = fields.Date.to_date(preview["date"])
                values["preview"] = preview
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
        contract = request.env["rbm.contract"].browse(contract_sudo.id)
        try:
            args = self._parse_change_request(contract_sudo, kw)
            key = self._check_request_key(contract_sudo, kw)
            contract.request_change(**args, request_key=key)
        except AccessError as error:
            return self._render_refusal(contract_sudo, error.args[0])
        except (UserError, ValidationError) as error:
            values = self._prepare_change_page_values(contract_sudo, kw, error=error.args[0])
            return request.render("rbm_recurring.portal_subscription_change", values)
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
        contract = request.env["rbm.contract"].browse(contract_sudo.id)
        reasons_sudo = (
            request.env["rbm.cancel.reason"].sudo().search([("portal_visible", "=", True)])
        )
        values = {
            "contract": contract_sudo,
            "reasons": reasons_sudo,
            "page_name": "rbm_subscription",
            "error": False,
            "preview": False,
            "request_key": uuid.uuid4().hex,
        }
        try:
            preview = contract.request_cancellation(timing="period_end", preview=True)
        except AccessError as error:
            return self._render_refusal(contract_sudo, error.args[0])
        except UserError as error:
            if request.httprequest.method == "POST" and kw.get("request_key"):
                # the same form submitted again: the first submission is the answer
                done = (
                    request.env["rbm.contract.request"]
                    .sudo()
                    .search_count(
                        [
                            ("key", "=", kw["request_key"]),
                            ("contract_id", "=", contract_sudo.id),
                            ("kind", "=", "cancel"),
                        ]
                    )
                )
                if done:
                    return request.redirect(f"/my/subscriptions/{contract_sudo.id}?cancelled=1")
            values["error"] = error.args[0]
            return request.render("rbm_recurring.portal_subscription_cancel", values)
        preview["last_day"] = fields.Date.to_date(preview["last_day"])
        values["preview"] = preview
        if request.httprequest.method == "POST":
            reason_id = kw.get("reason_id") or ""
            reason_id = int(reason_id) if reason_id.isdigit() and len(reason_id) <= 10 else 0
            if reason_id not in reasons_sudo.ids:
                values["error"] = _(
                    "Contract %(contract)s: please tell us why you are leaving (field Reason).",
                    contract=contract_sudo.display_name,
                )
                return request.render("rbm_recurring.portal_subscription_cancel", values)
            try:
                contract.request_cancellation(
                    reason_id,
                    "period_end",
                    note=kw.get("note") or False,
                    request_key=self._check_request_key(contract_sudo, kw),
                )
            except (UserError, ValidationError) as error:
                values["error"] = error.args[0]
                return request.render("rbm_recurring.portal_subscription_cancel", values)
            return request.redirect(f"/my/subscriptions/{contract_sudo.id}?cancelled=1")
        return request.render("rbm_recurring.portal_subscription_cancel", values)
