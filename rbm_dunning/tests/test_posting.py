from datetime import date

from freezegun import freeze_time

from odoo import Command
from odoo.tests import tagged

from ..models.rbm_boleto import ACTIVE_STATES
from .common_card import RbmCardCase

DAY0 = date(2026, 3, 1)
POST_STEPS = (
    "_rbm_assign_debit_mandates",
    "_rbm_issue_boletos",
    "_rbm_issue_pix",
    "_rbm_schedule_card_charges",
)
DRAFT_STEPS = ("_rbm_stop_card_charges", "_rbm_write_off_boletos")


@tagged("post_install", "-at_install")
class TestInvoicePosting(RbmCardCase):
    """Posting an invoice runs the steps of rbm_dunning in the order
    ``account.move._post`` states, and the reset to draft undoes them."""

    def _watch(self, names):
        """Record the calls of the steps ``names`` of account.move (each one
        still runs): returns the list of (step, invoices) in call order."""
        calls = []
        Move = self.registry["account.move"]
        for name in names:
            step = getattr(Move, name)

            def watched(moves, *args, _step=step, _name=name, **kwargs):
                calls.append((_name, moves))
                return _step(moves, *args, **kwargs)

            self.patch(Move, name, watched)
        return calls

    def _contract(self, payment_mode, **vals):
        contract = self.env["rbm.contract"].create(
            {
                "partner_id": self.customer.id,
                "plan_id": self.plan.id,
                "date_start": DAY0,
                "payment_mode": payment_mode,
                "due_day": 10,
                **vals,
            }
        )
        contract.action_activate()
        return contract

    def _draft_invoice(self, contract, **vals):
        return self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": self.customer.id,
                "invoice_date": DAY0,
                "rbm_contract_id": contract.id,
                "invoice_line_ids": [
                    Command.create(
                        {"product_id": self.product.id, "quantity": 1, "price_unit": 150.0}
                    )
                ],
                **vals,
            }
        )

    def test_post_runs_the_steps_in_their_order(self):
        mandate = self._active_mandate()
        token = self._make_token(self.customer, "done")
        with freeze_time(DAY0):
            by_debit = self._draft_invoice(self._contract("direct_debit"))
            by_boleto = self._draft_invoice(self._contract("boleto"))
            by_pix = self._draft_invoice(self._contract("pix"))
            # a card contract's invoice given a collection account: boletos and card
            by_card = self._draft_invoice(
                self._contract("card", payment_token_id=token.id),
                rbm_collection_account_id=self.account.id,
            )
            invoices = by_debit | by_boleto | by_pix | by_card
            calls = self._watch(POST_STEPS)
            invoices.action_post()

        self.assertEqual([name for name, _moves in calls], list(POST_STEPS))
        for name, moves in calls:
            self.assertEqual(moves, invoices, name)
        # each step's effect, on its invoices only
        self.assertEqual(by_debit.rbm_debit_mandate_id, mandate)
        self.assertFalse((by_boleto | by_pix | by_card).rbm_debit_mandate_id)
        self.assertEqual(len(by_boleto.rbm_boleto_ids), 1)
        self.assertEqual(len(by_card.rbm_boleto_ids), 1)
        self.assertFalse((by_debit | by_pix).rbm_boleto_ids)
        self.assertTrue(by_pix.rbm_pix_payload)
        self.assertFalse(any((by_debit | by_boleto | by_card).mapped("rbm_pix_payload")))
        self.assertEqual(invoices.filtered("rbm_card_charge_due"), by_card)
        # the card is charged by the card run, after the posting: never during it
        self.assertFalse(by_card.rbm_card_attempt_ids)
        self._run_cron(DAY0)
        self.assertEqual(by_card.rbm_card_attempt_ids.state, "done")
        self.assertFalse(by_card.rbm_card_charge_due)

    def test_reset_to_draft_stops_the_card_then_writes_the_boletos_off(self):
        token = self._make_token(self.customer, "done")
        with freeze_time(DAY0):
            invoice = self._draft_invoice(
                self._contract("card", payment_token_id=token.id),
                rbm_collection_account_id=self.account.id,
            )
            invoice.action_post()
        self.assertTrue(invoice.rbm_card_charge_due)
        boleto = invoice.rbm_boleto_ids
        self.assertEqual(len(boleto), 1)
        calls = self._watch(DRAFT_STEPS)
        invoice.button_draft()
        self.assertEqual([name for name, _moves in calls], list(DRAFT_STEPS))
        self.assertEqual(invoice.state, "draft")
        self.assertFalse(invoice.rbm_card_charge_due)
        self.assertNotIn(boleto.state, ACTIVE_STATES)
        self._run_cron(DAY0)
        self.assertFalse(invoice.rbm_card_attempt_ids)
