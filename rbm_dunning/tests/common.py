import base64
from datetime import date
from decimal import Decimal

from odoo import Command

from odoo.addons.account.tests.common import AccountTestInvoicingCommon

from ..engine import cnab

ITAU = {"bank_code": "341", "branch": "0810", "account_number": "53678", "portfolio": "109"}
COMPANY_CNPJ = "16727230000197"


class RbmDunningCase(AccountTestInvoicingCommon):
    """A Brazilian company (BRL, CNPJ) with an Itaú collection account, and a
    customer whose contract is paid by boleto."""

    chart_template = "generic_coa"

    @classmethod
    def setup_independent_company(cls, **kwargs):
        brl = cls._enable_currency("BRL")
        return super().setup_independent_company(
            currency_id=brl.id,
            country_id=cls.env.ref("base.br").id,
            vat=COMPANY_CNPJ,
            street="Av. Paulista, 1000",
            city="São Paulo",
            zip="01310-100",
            **kwargs,
        )

    @classmethod
    def get_default_groups(cls):
        return (
            super().get_default_groups()
            | cls.env.ref("rbm_dunning.rbm_dunning_group_user")
            | cls.env.ref("rbm_recurring.rbm_recurring_group_manager")
        )

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.bank_journal = cls.company_data["default_journal_bank"]
        cls.company_bank = cls.env["res.partner.bank"].create(
            {"acc_number": "0810 53678-9", "partner_id": cls.env.company.partner_id.id}
        )
        cls.interest_account = cls.company_data["default_account_revenue"]
        cls.fee_account = cls.company_data["default_account_expense"]
        cls.account = cls._make_collection_account()
        cls.customer = cls.env["res.partner"].create(
            {
                "name": "Maria José da Conceição",
                "vat": "390.533.447-05",
                "street": "Rua das Acácias, 100",
                "street2": "Jardim Paulista",
                "zip": "01310-100",
                "city": "São Paulo",
                "state_id": cls.env.ref("base.state_br_sp").id,
                "country_id": cls.env.ref("base.br").id,
                "email": "maria@example.com",
            }
        )
        cls.product = cls.env["product.product"].create(
            {
                "name": "Plano Pro",
                "type": "service",
                "list_price": 150.0,
                "rbm_billing_type": "recurring",
                "taxes_id": [Command.clear()],
            }
        )
        cls.plan = cls.env["rbm.plan"].create(
            {
                "name": "Mensal",
                "line_ids": [
                    Command.create(
                        {"product_id": cls.product.id, "quantity": 1, "price_unit": 150.0}
                    )
                ],
            }
        )

    @classmethod
    def _make_collection_account(cls, **vals):
        return cls.env["rbm.collection.account"].create(
            {
                "name": "Itaú 109",
                **ITAU,
                "partner_bank_id": cls.company_bank.id,
                "journal_id": cls.bank_journal.id,
                "interest_account_id": cls.interest_account.id,
                "fee_account_id": cls.fee_account.id,
                "pix_key": COMPANY_CNPJ,
                **vals,
            }
        )

    def _active_mandate(self):
        """The customer's active direct debit mandate on the collection account."""
        mandate = self.env["rbm.debit.mandate"].create(
            {
                "partner_id": self.customer.id,
                "collection_account_id": self.account.id,
                "branch": "0810",
                "account_number": "999999",
            }
        )
        mandate.action_activate()
        return mandate

    def _bill_contract(self, start=date(2026, 3, 1), partner=None, payment_mode="boleto"):
        """A contract paid by boleto, billed once: its posted invoice."""
        contract = self.env["rbm.contract"].create(
            {
                "partner_id": (partner or self.customer).id,
                "plan_id": self.plan.id,
                "date_start": start,
                "payment_mode": payment_mode,
                "due_day": 10,
            }
        )
        contract.action_activate()
        result = contract.env["rbm.billing.run"]._bill(contract, start)
        self.assertFalse(result["failed"])
        invoice = result["moves"]
        self.assertEqual(invoice.state, "posted")
        return invoice

    # ------------------------------------------------------------------
    # Return files built with the engine's own layouts
    # ------------------------------------------------------------------

    def _return_240(self, details, nsa=7, generated_on=date(2026, 3, 12)):
        """A CNAB 240 return of the Itaú account: ``details`` are dicts with
        occurrence, boleto, amount_paid, interest_fine, fee, credit_date,
        reasons. Written with the engine's return layout (segments T + U)."""
        layout = cnab.cnab240_layout("341", "return")
        common = {
            "batch": 1,
            "company_document_type": "2",
            "company_document": COMPANY_CNPJ,
            "branch": "0810",
            "account": "53678",
        }

        def write(record, values):
            return record.to_line({k: v for k, v in values.items() if k in record.names})

        lines = [
            write(
                layout["file_header"],
                {**common, "file_type": "2", "generated_on": generated_on, "file_sequence": nsa},
            ),
            write(layout["batch_header"], {**common, "operation": "T"}),
        ]
        sequence = 0
        for detail in details:
            boleto = detail["boleto"]
            paid = Decimal(str(detail.get("amount_paid", 0)))
            fee = Decimal(str(detail.get("fee", 0)))
            sequence += 1
            lines.append(
                write(
                    layout["T"],
                    {
                        **common,
                        "sequence": sequence,
                        "occurrence": detail["occurrence"],
                        "portfolio": "109",
                        "our_number": detail.get("our_number")
                        or f"{boleto.our_number_sequence:08d}",
                        "our_number_digit": boleto.our_number[-1] if boleto else "0",
                        "due_date": boleto.due_date if boleto else generated_on,
                        "amount": Decimal(str(boleto.amount)) if boleto else Decimal(0),
                        "fee": fee,
                        "rejection_reasons": detail.get("reasons", ""),
                    },
                )
            )
            sequence += 1
            lines.append(
                write(
                    layout["U"],
                    {
                        **common,
                        "sequence": sequence,
                        "occurrence": detail["occurrence"],
                        "amount_paid": paid,
                        "net_amount": paid - fee if paid else Decimal(0),
                        "interest_fine": Decimal(str(detail.get("interest_fine", 0))),
                        "occurrence_date": detail.get("occurrence_date", generated_on),
                        "credit_date": detail.get("credit_date"),
                    },
                )
            )
        lines.append(write(layout["batch_trailer"], {**common, "record_count": sequence + 2}))
        lines.append(
            layout["file_trailer"].to_line({"batch_count": 1, "record_count": len(lines) + 1})
        )
        return ("\r\n".join(lines) + "\r\n").encode("latin-1")

    def _import(self, content, filename="retorno.ret"):
        wizard = self.env["rbm.cnab.import.wizard"].create(
            {
                "collection_account_id": self.account.id,
                "data": base64.b64encode(content),
                "filename": filename,
            }
        )
        wizard.action_preview()
        preview = [(line.line_number, line.status, line.boleto_id) for line in wizard.line_ids]
        action = wizard.action_import()
        return self.env["rbm.cnab.file"].browse(action["res_id"]), preview
