from odoo import http
from odoo.exceptions import AccessError, MissingError
from odoo.http import content_disposition, request

from odoo.addons.portal.controllers.portal import CustomerPortal


class RbmUsagePortal(CustomerPortal):
    """Usage statement of a subscription on the customer portal: the page
    (with a chart), its CSV and its PDF, under the access rules of the
    subscription page."""

    def _get_usage_contract_sudo(self, contract_id, access_token=None):
        contract_sudo = self._document_check_access("rbm.contract", contract_id, access_token)
        if contract_sudo.state == "draft":
            raise MissingError(request.env._("This subscription has no usage yet."))
        return contract_sudo

    def _prepare_usage_page_values(self, contract_sudo, statement, access_token=None):
        query = f"&access_token={access_token}" if access_token else ""
        return {
            "contract": contract_sudo,
            "statement": statement,
            "page_name": "rbm_usage",
            "access_token": access_token,
            "token_query": query,
            "show_periods": True,
        }

    @http.route(
        ["/my/subscriptions/<int:contract_id>/usage"], type="http", auth="public", website=True
    )
    def portal_my_subscription_usage(self, contract_id, access_token=None, period=None, **kw):
        try:
            contract_sudo = self._get_usage_contract_sudo(contract_id, access_token)
        except (AccessError, MissingError):
            return request.redirect("/my")
        statement = contract_sudo._get_usage_statement(period)
        values = self._prepare_usage_page_values(contract_sudo, statement, access_token)
        return request.render("rbm_metering.portal_my_subscription_usage", values)

    # read only: on the database replica when Odoo has one (db_replica_host)
    @http.route(
        ["/my/subscriptions/<int:contract_id>/usage.csv"],
        type="http",
        auth="public",
        website=True,
        readonly=True,
    )
    def portal_my_subscription_usage_csv(self, contract_id, access_token=None, period=None, **kw):
        try:
            contract_sudo = self._get_usage_contract_sudo(contract_id, access_token)
        except (AccessError, MissingError):
            return request.redirect("/my")
        statement = contract_sudo._get_usage_statement(period)
        content = contract_sudo._get_statement_csv(statement).encode("utf-8-sig")
        filename = contract_sudo._get_usage_statement_filename(statement["window"]["start"], "csv")
        return request.make_response(
            content,
            headers=[
                ("Content-Type", "text/csv; charset=utf-8"),
                ("Content-Length", len(content)),
                ("Content-Disposition", content_disposition(filename)),
            ],
        )

    @http.route(
        ["/my/subscriptions/<int:contract_id>/usage.pdf"],
        type="http",
        auth="public",
        website=True,
    )
    def portal_my_subscription_usage_pdf(
        self, contract_id, access_token=None, period=None, download=None, **kw
    ):
        try:
            contract_sudo = self._get_usage_contract_sudo(contract_id, access_token)
        except (AccessError, MissingError):
            return request.redirect("/my")
        pdf, filename = contract_sudo._render_usage_statement_pdf(period)
        disposition = content_disposition(filename, "attachment" if download else "inline")
        return request.make_response(
            pdf,
            headers=[
                ("Content-Type", "application/pdf"),
                ("Content-Length", len(pdf)),
                ("Content-Disposition", disposition),
            ],
        )
