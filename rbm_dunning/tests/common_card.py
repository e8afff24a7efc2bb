import unittest
from datetime import date

from freezegun import freeze_time

from .common import RbmDunningCase


class RbmCardCase(RbmDunningCase):
    """The company charges saved cards through the demo payment provider
    (addon payment_demo, installed by run-tests for these tests)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if cls.env["ir.module.module"]._get("payment_demo").state != "installed":
            raise unittest.SkipTest("the card charge tests need the addon payment_demo")
        cls.provider = (
            cls.env.ref("payment.payment_provider_demo")
            .sudo()
            .copy({"company_id": cls.env.company.id, "name": "Demo RBM"})
        )
        cls.provider.write({"state": "test", "journal_id": cls.bank_journal.id})
        cls.payment_method = cls.env.ref("payment_demo.payment_method_demo")
        cls.env.company.rbm_card_retry_days = "1,3,5,7"
        cls.cron = cls.env.ref("rbm_dunning.ir_cron_rbm_card_retries")

    @classmethod
    def _make_token(cls, partner, simulated_state="done", digits="4242"):
        return (
            cls.env["payment.token"]
            .sudo()
            .create(
                {
                    "provider_id": cls.provider.id,
                    "payment_method_id": cls.payment_method.id,
                    "partner_id": partner.id,
                    "payment_details": digits,
                    "provider_ref": f"demo-{partner.id}-{digits}",
                    "demo_simulated_state": simulated_state,
                }
            )
        )

    @classmethod
    def _make_card_contract(cls, token, partner=None, start=date(2026, 3, 1)):
        contract = cls.env["rbm.contract"].create(
            {
                "partner_id": (partner or cls.customer).id,
                "plan_id": cls.plan.id,
                "date_start": start,
                "payment_mode": "card",
                "payment_token_id": token.id,
                "due_day": 10,
            }
        )
        contract.action_activate()
        return contract

    def _bill_card_contract(self, token, start=date(2026, 3, 1)):
        """A contract paid by ``token``, billed on ``start``: its posted invoice."""
        with freeze_time(start):
            contract = self._make_card_contract(token, start=start)
            result = contract.env["rbm.billing.run"]._bill(contract, start)
        self.assertFalse(result["failed"])
        invoice = result["moves"]
        self.assertEqual(invoice.state, "posted")
        return invoice

    def _run_cron(self, day):
        with freeze_time(day):
            self.cron.method_direct_trigger()
            self.env.invalidate_all()
