import threading
from unittest.mock import patch

from odoo import SUPERUSER_ID, Command, api, fields
from odoo.api import Transaction
from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger

from ..models import rbm_nfse as rbm_nfse_module
from .common import CUSTOMER_CNPJ, SefinMixin

INVOICES = 6


@tagged("post_install", "-at_install")
class TestConcurrentIssuing(SefinMixin, TransactionCase):
    """Two issuing runs at the same time, each with its own connection and transaction,
    committing as the cron does: every invoice gets exactly one NFS-e, numbered once."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.start_sefin()

    def setUp(self):
        super().setUp()
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            company = env.company
            self.saved = company.read(
                ["vat", "nfse_enabled", "nfse_url_restricted", "nfse_start_date"]
            )[0]
            self.certificate_ids = env["rbm.nfse.certificate"].search([]).ids
            self.configure_company(env, company)
            product = env["product.product"].create(
                {"name": "Concurrent NFS-e", "type": "service", "taxes_id": [Command.clear()]}
            )
            partner = env["res.partner"].create(
                {
                    "name": "Cliente Concorrente Ltda",
                    "is_company": True,
                    "vat": CUSTOMER_CNPJ,
                    "street": "Rua Augusta, 500",
                    "street2": "Consolação",
                    "zip": "01304000",
                    "nfse_city_ibge": "3550308",
                }
            )
            # what the database holds is issued first, so only these invoices race
            env["rbm.nfse"]._cron_issue(batch_size=1000)
            counter = env["rbm.nfse.counter"]
            counter._reserve(company, "1")
            row = counter.search([("company_id", "=", company.id), ("series", "=", "1")])
            self.saved_number = row.last_number - 1
            # numbers no other test reaches (the Sefin keeps every DPS Id it issued)
            row.last_number = 900000
            moves = env["account.move"].create(
                [
                    {
                        "move_type": "out_invoice",
                        "partner_id": partner.id,
                        "invoice_date": fields.Date.today(),
                        "invoice_line_ids": [
                            Command.create(
                                {"product_id": product.id, "quantity": 1, "price_unit": 100 + i}
                            )
                        ],
                    }
                    for i in range(INVOICES)
                ]
            )
            moves.action_post()
            self.move_ids = moves.ids
            self.cleanup = (company.id, product.id, partner.id)
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        company_id, product_id, partner_id = self.cleanup
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            ids = tuple(self.move_ids)
            cr.execute("DELETE FROM rbm_nfse WHERE move_id IN %s", [ids])
            cr.execute(
                "DELETE FROM ir_attachment WHERE res_model = 'account.move' AND res_id IN %s",
                [ids],
            )
            cr.execute(
                "DELETE FROM mail_message WHERE model = 'account.move' AND res_id IN %s", [ids]
            )
            cr.execute("DELETE FROM account_move_line WHERE move_id IN %s", [ids])
            cr.execute("DELETE FROM account_move WHERE id IN %s", [ids])
            cr.execute("DELETE FROM res_partner WHERE id = %s", [partner_id])
            cr.execute(
                "DELETE FROM product_template WHERE id IN "
                "(SELECT product_tmpl_id FROM product_product WHERE id = %s)",
                [product_id],
            )
            cr.execute(
                "DELETE FROM rbm_nfse_certificate WHERE NOT id = ANY(%s)",
                [self.certificate_ids or [0]],
            )
            cr.execute(
                "UPDATE rbm_nfse_counter SET last_number = %s WHERE company_id = %s "
                "AND series = '1'",
                [self.saved_number, company_id],
            )
            env["ir.config_parameter"].set_param("rbm_nfse.sefin_ca_file", False)
            env["ir.config_parameter"].set_param("rbm_nfse.sefin_read_timeout", False)
            saved = {k: v for k, v in self.saved.items() if k != "id"}
            env["res.company"].browse(company_id).write(saved)

    def test_two_runs_issue_each_invoice_once(self):
        barrier = threading.Barrier(2)
        outcomes = []

        def worker():
            try:
                with self.registry.cursor() as cr:
                    cr.transaction = Transaction(self.registry)
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    env["rbm.nfse"].search([]).mapped("state")  # open the snapshot
                    barrier.wait(timeout=20)
                    outcomes.append(("ok", len(env["rbm.nfse"]._cron_issue(batch_size=50))))
            except Exception as error:  # noqa: BLE001 - reported in the assertion
                outcomes.append(("error", repr(error)))

        threads = [threading.Thread(target=worker) for _i in range(2)]
        # the runs commit NFS-e by NFS-e, as the cron does outside tests
        with (
            patch.object(rbm_nfse_module, "auto_commit_allowed", return_value=True),
            mute_logger("odoo.sql_db"),
        ):
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
        self.assertFalse(any(thread.is_alive() for thread in threads), "a run hung")
        self.assertEqual([kind for kind, _n in outcomes], ["ok", "ok"], outcomes)
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT move_id, count(*), min(state), min(number), min(dps_id) FROM rbm_nfse "
                "WHERE move_id IN %s GROUP BY move_id",
                [tuple(self.move_ids)],
            )
            rows = cr.fetchall()
        self.assertEqual(len(rows), INVOICES, outcomes)
        self.assertEqual({row[1] for row in rows}, {1}, "one NFS-e per invoice")
        self.assertEqual({row[2] for row in rows}, {"issued"}, rows)
        numbers = sorted(row[3] for row in rows)
        self.assertEqual(numbers, list(range(900001, 900001 + INVOICES)), "no gap, no repeat")
        self.assertEqual(sum(n for _kind, n in outcomes), INVOICES, outcomes)
        # the Sefin got each DPS once
        for row in rows:
            self.assertIn(row[4], self.sefin.by_dps)
        self.assertFalse(self.sefin.duplicates, "no DPS sent twice")
