from odoo import http
from odoo.http import request

from odoo.addons.rbm_recurring.controllers.portal import RbmCustomerPortal


class RbmOverduePortal(RbmCustomerPortal):
    """The overdue banner: on /my and on a subscription's page, the late
    customer sees what is past due and how to pay it."""

    @http.route()
    def home(self, **kw):
        response = super().home(**kw)
        if hasattr(response, "qcontext"):
            response.qcontext["rbm_overdue"] = self._rbm_prepare_overdue_values(
                request.env.user.partner_id
            )
        return response

    @http.route()
    def portal_my_subscription(self, contract_id, access_token=None, **kw):
        response = super().portal_my_subscription(contract_id, access_token=access_token, **kw)
        contract_sudo = getattr(response, "qcontext", {}).get("contract")
        if contract_sudo:
            # the installments of this contract's invoices, which the page shows anyway
            response.qcontext["rbm_overdue"] = self._rbm_prepare_overdue_values(
                contract_sudo.commercial_partner_id, contract=contract_sudo
            )
        return response

    def _rbm_prepare_overdue_values(self, partner, contract=None):
        """Values of the banner: the customer's invoices with installments
        past due today (of ``contract`` only, when given), their amounts and
        the ways to pay them; empty when nothing is overdue."""
        if request.env.user._is_public() and contract is None:
            return {}
        # days overdue counted in the customer's time zone, else the company's
        viewer = contract.partner_id if contract is not None else request.env.user.partner_id
        today = viewer._rbm_get_today(contract.company_id if contract is not None else None)
        lines_sudo = partner.sudo()._rbm_get_overdue_installments_sudo(
            as_of=today, contract=contract
        )
        if not lines_sudo:
            return {}
        invoices = []
        totals = {}
        for move_sudo in lines_sudo.move_id:
            move_lines = lines_sudo.filtered(lambda line, move=move_sudo: line.move_id == move)
            amount = move_sudo.currency_id.round(sum(move_lines.mapped("amount_residual_currency")))
            boletos_sudo = move_sudo._rbm_get_boletos_to_print().filtered(
                lambda boleto, lines=move_lines: boleto.move_line_id in lines
            )
            due_date = min(move_lines.mapped("date_maturity"))
            totals[move_sudo.currency_id] = totals.get(move_sudo.currency_id, 0.0) + amount
            invoices.append(
                {
                    "invoice": move_sudo,
                    "amount": amount,
                    "currency": move_sudo.currency_id,
                    "due_date": due_date,
                    "days": (today - due_date).days,
                    "url": move_sudo.get_portal_url(),
                    "boleto_url": boletos_sudo and move_sudo.get_portal_url(suffix="/boleto"),
                    # only the ways to pay that work for this invoice: the Pix
                    # of its boletos or its own Pix code; a card when a
                    # provider can take this payment
                    "pix_url": (
                        any(boletos_sudo.mapped("pix_payload"))
                        and move_sudo.get_portal_url(anchor="rbm_boletos")
                    )
                    or (move_sudo._rbm_show_pix() and move_sudo.get_portal_url(anchor="rbm_pix")),
                    "card_url": move_sudo._has_to_be_paid()
                    and self._rbm_can_pay_online(move_sudo, amount)
                    and move_sudo.get_portal_url(anchor="portal_pay", query_string="&payment=True"),
                }
            )
        return {
            "invoices": invoices,
            "totals": [(currency, currency.round(total)) for currency, total in totals.items()],
        }

    def _rbm_can_pay_online(self, move_sudo, amount):
        """Whether an online payment provider (card, intermediary) can take
        ``amount`` of this invoice: Odoo's compatibility rules (company,
        country, currency, amount)."""
        return bool(
            request.env["payment.provider"]
            .sudo()
            ._get_compatible_providers(
                move_sudo.company_id.id,
                move_sudo.partner_id.id,
                amount,
                currency_id=move_sudo.currency_id.id,
            )
        )
