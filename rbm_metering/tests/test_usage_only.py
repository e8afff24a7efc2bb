from odoo import Command
from odoo.tests import tagged

from .common import RbmMeteringCase


@tagged("post_install", "-at_install")
class TestUsageOnlyContract(RbmMeteringCase):
    """A pay-as-you-go contract has only a usage line and is billed for usage alone."""

    def test_pay_as_you_go(self):
        plan = self.env["rbm.plan"].create(
            {
                "name": "Pay as you go",
                "billing_mode": "arrears",
                "line_ids": [
                    Command.create(
                        {
                            "product_id": self.product_usage.id,
                            "name": "Storage",
                            "metric_id": self.storage.id,
                            "price_unit": 0.5,
                        }
                    )
                ],
            }
        )
        contract = self._make_contract(plan, "2027-01-01")
        self.assertEqual(contract.state, "active")
        self.assertEqual(contract.mrr, 0.0)
        result = self._ingest(
            contract,
            [
                {
                    "idempotency_key": "payg-1",
                    "metric": "storage_gb",
                    "quantity": 12,
                    "timestamp": "2027-01-10T12:00:00Z",
                }
            ],
            "2027-01-10 13:00:00",
        )
        self.assertEqual([r["status"] for r in result], ["accepted"])
        with self._frozen("2027-02-01"):
            move = self._bill(contract, contract.next_invoice_date)["moves"]
        self.assertEqual(move.invoice_line_ids.mapped("price_subtotal"), [6.0])
        self.assertEqual(move.state, "posted")
