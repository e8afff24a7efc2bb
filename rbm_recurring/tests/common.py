import threading
import time
from datetime import date

from freezegun import freeze_time

from odoo import SUPERUSER_ID, Command, api
from odoo.tests import TransactionCase
from odoo.tools import SQL


def race_through_table_lock(case, table, calls):
    """Send the HTTP requests of ``calls`` (name -> callable returning the
    response) at the same moment: each runs in its own thread while ``table``
    is locked in SHARE mode, and the lock is released once every one of them
    waits on it in PostgreSQL. The losers' failed statements are captured from
    ``odoo.sql_db`` (at least one is expected).

    Returns (responses or exceptions by name, requests seen waiting together,
    whether a request hung, the captured error lines)."""
    responses = {}

    def run(name):
        try:
            responses[name] = calls[name]()
        except Exception as error:  # noqa: BLE001 - reported by the caller's assertions
            responses[name] = error

    threads = [threading.Thread(target=run, args=(name,)) for name in calls]
    waiting = 0
    gate = case.registry.cursor()
    try:
        gate.execute(SQL("LOCK TABLE %s IN SHARE MODE", SQL.identifier(table)))
        with case.assertLogs("odoo.sql_db", "ERROR") as failures:
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and any(t.is_alive() for t in threads):
                gate.execute(
                    """
                    SELECT count(DISTINCT pid) FROM pg_locks
                     WHERE relation = %s::regclass AND NOT granted
                    """,
                    [table],
                )
                waiting = gate.fetchone()[0]
                if waiting == len(threads):
                    break
                time.sleep(0.05)
            gate.rollback()  # releases the lock: every request goes on
            for thread in threads:
                thread.join(timeout=120)
    finally:
        gate.close()
    hung = any(thread.is_alive() for thread in threads)
    return responses, waiting, hung, failures.output


class RbmBillingCase(TransactionCase):
    """Products, customers and helpers shared by the billing tests."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.env.company
        cls.currency = cls.company.currency_id
        cls.product_plan = cls._make_product("Plan Pro", 100.0)
        cls.product_seat = cls._make_product("Extra seat", 33.33)
        cls.product_fee = cls._make_product(
            "Setup fee", 100.0, billing_type="one_time", installments=3
        )
        cls.customer_a = cls.env["res.partner"].create(
            {"name": "Padaria Alfa", "email": "a@example.com"}
        )
        cls.customer_b = cls.env["res.partner"].create(
            {"name": "Oficina Beta", "email": "b@example.com"}
        )
        cls.term_30 = cls.env.ref("account.account_payment_term_30days")

    @classmethod
    def _make_product(cls, name, price, billing_type="recurring", installments=1, taxes=None):
        return cls.env["product.product"].create(
            {
                "name": name,
                "type": "service",
                "list_price": price,
                "rbm_billing_type": billing_type,
                "rbm_fee_installments": installments,
                "taxes_id": [Command.set(taxes.ids if taxes else [])],
            }
        )

    @classmethod
    def _make_plan(cls, lines=None, **vals):
        lines = lines if lines is not None else [(cls.product_plan, 1, 100.0)]
        return cls.env["rbm.plan"].create(
            {
                "name": vals.pop("name", "Plan"),
                "line_ids": [
                    Command.create({"product_id": p.id, "quantity": q, "price_unit": price})
                    for p, q, price in lines
                ],
                **vals,
            }
        )

    @classmethod
    def _make_contract(cls, plan, start, partner=None, activate=True, **vals):
        contract = cls.env["rbm.contract"].create(
            {
                "partner_id": (partner or cls.customer_a).id,
                "plan_id": plan.id,
                "date_start": start,
                **vals,
            }
        )
        if activate:
            contract.action_activate()
        return contract

    def _bill(self, contracts, today):
        return contracts.env["rbm.billing.run"]._bill(contracts, today)

    def _run_night(self, day):
        """The night's crons on ``day``, in their order: the contract
        lifecycle, then the billing run (its result is returned)."""
        with freeze_time(day):
            self.env["rbm.billing.run"]._cron_lifecycle()
            return self.env["rbm.billing.run"]._cron_billing_run()

    def _invoices(self, contract):
        return self.env["account.move"].search(
            [("rbm_contract_id", "=", contract.id)], order="rbm_period_start"
        )

    def _periods(self, contract):
        return [(m.rbm_period_start, m.rbm_period_end) for m in self._invoices(contract)]


def d(value):
    return date.fromisoformat(value)


def commit_contracts(case, count, start, name):
    """``count`` active contracts of a 50.00 monthly plan starting on ``start``,
    created and committed in their own transaction (for tests whose workers
    use their own database connections), and deleted with everything billed
    for them when ``case`` ends. Returns ``(contract ids, partner ids)``."""
    with case.registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        product = env["product.product"].create(
            {"name": f"{name} plan", "type": "service", "taxes_id": [Command.clear()]}
        )
        plan = env["rbm.plan"].create(
            {
                "name": name,
                "line_ids": [
                    Command.create({"product_id": product.id, "quantity": 1, "price_unit": 50})
                ],
            }
        )
        partners = env["res.partner"].create(
            [{"name": f"{name} customer {i}"} for i in range(count)]
        )
        contracts = env["rbm.contract"].create(
            [{"partner_id": p.id, "plan_id": plan.id, "date_start": start} for p in partners]
        )
        contracts.action_activate()
        ids, partner_ids = contracts.ids, partners.ids
        product_id, plan_id = product.id, plan.id

    def delete():
        with case.registry.cursor() as cr:
            moves = "SELECT id FROM account_move WHERE rbm_contract_id IN %s"
            cr.execute(
                "DELETE FROM account_partial_reconcile WHERE debit_move_id IN "
                f"(SELECT id FROM account_move_line WHERE move_id IN ({moves}))",  # noqa: S608
                [tuple(ids)],
            )
            cr.execute(
                f"DELETE FROM account_move_line WHERE move_id IN ({moves})",  # noqa: S608
                [tuple(ids)],
            )
            cr.execute("DELETE FROM account_move WHERE rbm_contract_id IN %s", [tuple(ids)])
            cr.execute("DELETE FROM rbm_contract WHERE id IN %s", [tuple(ids)])
            cr.execute("DELETE FROM rbm_plan WHERE id = %s", [plan_id])
            cr.execute("DELETE FROM res_partner WHERE id IN %s", [tuple(partner_ids)])
            cr.execute(
                "DELETE FROM product_template WHERE id IN "
                "(SELECT product_tmpl_id FROM product_product WHERE id = %s)",
                [product_id],
            )

    case.addCleanup(delete)
    return ids, partner_ids
