from odoo import models

# Messages providers leave on a transaction when the card itself cannot be
# charged again (lower case, matched inside the state message).
# - stripe: ``last_payment_error.message`` of the PaymentIntent for the
#   decline codes expired_card, incorrect_number, invalid_account,
#   card_not_supported (https://docs.stripe.com/declines/codes).
HARD_DECLINE_MESSAGES = {
    "stripe": (
        "your card has expired",
        "your card number is incorrect",
        "your card number is invalid",
        "your card does not support this type of purchase",
        "the card has been reported lost",
        "the card has been reported stolen",
    ),
}


class PaymentTransaction(models.Model):
    _inherit = "payment.transaction"

    def _update_state(self, allowed_states, target_state, state_message):
        txs = super()._update_state(allowed_states, target_state, state_message)
        if txs:
            attempts_sudo = (
                self.env["rbm.card.attempt"].sudo().search([("transaction_id", "in", txs.ids)])
            )
            if attempts_sudo:
                attempts_sudo._sync_from_transaction()
        return txs

    def _rbm_is_hard_decline(self):
        """Whether the provider refused this charge for good, so that the card
        must not be charged again (no retry).

        The rule, by provider:
        - every provider: a canceled transaction (``cancel``) is final — the
          provider or the customer stopped it (Stripe ``canceled`` intents,
          Adyen ``Cancelled``, Mercado Pago ``cancelled``, PayPal voids);
          ``error`` is a soft decline (insufficient funds, issuer
          unavailable, communication failure) retried on schedule.
        - demo: the token's simulated state decides: ``cancel`` is a hard
          decline, ``error`` a soft one.
        - stripe: also the final decline messages of ``HARD_DECLINE_MESSAGES``.
        - adyen, mercado pago, paypal: Odoo keeps no refusal code on the
          transaction (Adyen's refusalReason is only logged, Mercado Pago
          and PayPal charge no saved card in Odoo 18), so only ``cancel``.
        Override to refine for a provider.
        """
        self.ensure_one()
        if self.state == "cancel":
            return True
        if self.state != "error":
            return False
        message = (self.state_message or "").lower()
        return any(
            fragment in message for fragment in HARD_DECLINE_MESSAGES.get(self.provider_code, ())
        )
