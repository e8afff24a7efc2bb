from contextlib import contextmanager

from freezegun import freeze_time

from odoo import Command

from odoo.addons.rbm_recurring.tests.common import RbmBillingCase


class RbmMeteringCase(RbmBillingCase):
    """Metrics, usage products and helpers shared by the metering tests."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.product_usage = cls._make_product("Storage", 0.0)
        cls.storage = cls._make_metric("storage_gb", "Storage", "GB")

    @classmethod
    def _make_metric(cls, code, name, unit, **vals):
        return cls.env["rbm.metric"].create(
            {"code": code, "name": name, "unit_label": unit, **vals}
        )

    @classmethod
    def _make_usage_plan(cls, metric, tiers=(), **pricing):
        """A plan: 100.00 recurring + a usage line of ``metric``."""
        plan_vals = {
            key: pricing.pop(key)
            for key in ("billing_mode", "alignment", "billing_day", "interval_unit")
            if key in pricing
        }
        return cls.env["rbm.plan"].create(
            {
                "name": f"Plan {metric.code}",
                "billing_mode": "arrears",
                **plan_vals,
                "line_ids": [
                    Command.create(
                        {"product_id": cls.product_plan.id, "quantity": 1, "price_unit": 100.0}
                    ),
                    Command.create(
                        {
                            "product_id": cls.product_usage.id,
                            "name": metric.name,
                            "metric_id": metric.id,
                            "tier_ids": [
                                Command.create(
                                    {
                                        "from_qty": t[0],
                                        "to_qty": t[1] or 0.0,
                                        "price": t[2],
                                        "flat_fee": t[3] if len(t) > 3 else 0.0,
                                    }
                                )
                                for t in tiers
                            ],
                            **pricing,
                        }
                    ),
                ],
            }
        )

    def _ingest(self, contract, events, at, company=None):
        """Ingest ``events`` (dicts; the contract filled in) as the API would at ``at``."""
        payload = [{"contract_id": contract.id, **event} for event in events]
        with freeze_time(at):
            return self.env["rbm.usage"]._ingest(company or contract.company_id, payload)

    @contextmanager
    def _frozen(self, at):
        with freeze_time(at):
            yield

    def _usage_line(self, move):
        return move.invoice_line_ids.filtered(
            lambda line: line.rbm_contract_line_id.line_type == "usage"
        )


def event(key, quantity, timestamp, metric="storage_gb", **vals):
    return {
        "idempotency_key": key,
        "metric": metric,
        "quantity": quantity,
        "timestamp": timestamp,
        **vals,
    }
