/** @odoo-module **/

import { _t } from '@web/core/l10n/translation';
import { rpc, RPCError } from '@web/core/network/rpc';
import paymentForm from '@payment/js/payment_form';

// Errors of PagSeguro.encryptCard() (PagBank SDK "Criptografia do cartão").
const CARD_ERRORS = {
    INVALID_NUMBER: _t("The card number is not valid."),
    INVALID_SECURITY_CODE: _t("The security code (CVV) is not valid."),
    INVALID_EXPIRATION_MONTH: _t("The expiration month is not valid."),
    INVALID_EXPIRATION_YEAR: _t("The expiration year is not valid."),
    INVALID_PUBLIC_KEY: _t("The payment provider is not configured (public key)."),
    INVALID_HOLDER: _t("The name on the card is not valid."),
};

paymentForm.include({

    // #=== DOM MANIPULATION ===#

    /**
     * Card, Pix and boleto are paid without leaving the page (direct flow).
     *
     * @override method from @payment/js/payment_form
     */
    async _prepareInlineForm(providerId, providerCode, paymentOptionId, paymentMethodCode, flow) {
        if (providerCode !== 'pagbank') {
            this._super(...arguments);
            return;
        } else if (flow === 'token') {
            return;
        }
        this._setPaymentFlow('direct');
    },

    // #=== PAYMENT FLOW ===#

    /**
     * Encrypt the card in the browser before creating the transaction.
     *
     * @override method from @payment/js/payment_form
     */
    async _initiatePaymentFlow(providerCode, paymentOptionId, paymentMethodCode, flow) {
        if (providerCode !== 'pagbank' || flow !== 'direct') {
            await this._super(...arguments);
            return;
        }
        this.pagbankCard = null;
        const cardForm = this.el.querySelector(
            `#o_pagbank_card_form_${paymentOptionId}`
        );
        if (cardForm) {
            const result = this._pagbankEncryptCard(cardForm);
            if (result.error) {
                this._displayErrorDialog(_t("Payment processing failed"), result.error);
                this._enableButton();
                return;
            }
            this.pagbankCard = result;
        }
        await this._super(...arguments);
    },

    /**
     * Send the payment to PagBank through the server, then show its status.
     *
     * @override method from @payment/js/payment_form
     */
    async _processDirectFlow(providerCode, paymentOptionId, paymentMethodCode, processingValues) {
        if (providerCode !== 'pagbank') {
            await this._super(...arguments);
            return;
        }
        const params = {
            'reference': processingValues.reference,
            'access_token': processingValues.pagbank_access_token,
        };
        if (this.pagbankCard) {
            params.encrypted_card = this.pagbankCard.encrypted;
            params.holder_name = this.pagbankCard.holder;
        }
        await rpc('/payment/pagbank/payment', params).then(() => {
            window.location = '/payment/status';
        }).catch(error => {
            if (error instanceof RPCError) {
                this._displayErrorDialog(_t("Payment processing failed"), error.data.message);
                this._enableButton();
            } else {
                return Promise.reject(error);
            }
        });
    },

    // #=== HELPERS ===#

    /**
     * Encrypt the card data with PagBank's SDK and the public key of the account.
     *
     * @private
     * @param {HTMLElement} cardForm - The inline card form.
     * @return {object} {encrypted, holder} or {error}.
     */
    _pagbankEncryptCard(cardForm) {
        const value = name => (cardForm.querySelector(`[name="${name}"]`)?.value || '').trim();
        const holder = value('pagbank_holder');
        const number = value('pagbank_number').replace(/\D/g, '');
        const expMonth = value('pagbank_exp_month').padStart(2, '0');
        let expYear = value('pagbank_exp_year');
        if (expYear.length === 2) {
            expYear = `20${expYear}`;
        }
        const securityCode = value('pagbank_cvv');
        if (!holder || !number || !expMonth || !expYear || !securityCode) {
            return { error: _t("Please fill in every card field.") };
        }
        if (!window.PagSeguro || !window.PagSeguro.encryptCard) {
            return { error: _t("PagBank's card encryption could not be loaded. Please reload the page.") };
        }
        const card = window.PagSeguro.encryptCard({
            publicKey: cardForm.dataset.pagbankPublicKey,
            holder: holder,
            number: number,
            expMonth: expMonth,
            expYear: expYear,
            securityCode: securityCode,
        });
        if (card.hasErrors) {
            const messages = card.errors.map(error => CARD_ERRORS[error.code] || error.message);
            return { error: messages.join(' ') };
        }
        return { encrypted: card.encryptedCard, holder: holder };
    },

});
