from odoo import _, api, fields, models
from odoo.tools import format_amount, format_date

from odoo.addons.rbm_recurring.tools import check_staff_access

from .rbm_collection_policy import INSTALLMENT_POLICY_SQL

_CANDIDATES_SQL = f"""
    WITH paid AS (
        SELECT aml.id, aml.date_maturity, pol.id AS policy_id, pol.date_start
        {INSTALLMENT_POLICY_SQL}
           AND pol.id IS NOT NULL
           AND aml.reconciled
           AND aml.date_maturity < %(today)s
           AND NOT EXISTS (SELECT 1 FROM rbm_late_fee f WHERE f.move_line_id = aml.id)
    ),
    late AS (
        SELECT paid.id, paid.policy_id,
               MAX(cl.date) AS payment_date,
               SUM(apr.amount) FILTER (WHERE cl.date > paid.date_maturity) AS late_amount,
               SUM(apr.amount * (cl.date - paid.date_maturity))
                   FILTER (WHERE cl.date > paid.date_maturity) AS amount_days,
               MAX(cl.date - paid.date_maturity) AS days_late,
               MIN(paid.date_start) AS date_start
          FROM paid
          JOIN account_partial_reconcile apr ON apr.debit_move_id = paid.id
          JOIN account_move_line cl ON cl.id = apr.credit_move_id
          JOIN account_move cm ON cm.id = cl.move_id
         WHERE cm.origin_payment_id IS NOT NULL OR cm.statement_line_id IS NOT NULL
      GROUP BY paid.id, paid.policy_id
    )
    SELECT id, policy_id, payment_date, days_late, late_amount, amount_days
      FROM late
     WHERE late_amount > 0 AND payment_date >= date_start
  ORDER BY id
    """


class RbmLateFee(models.Model):
    """Multa and juros de mora of one installment paid late: computed once
    (unique per installment) on the payment dates, then booked as collected by
    the bank, charged on the contract's next invoice, or as a debit invoice."""

    _name = "rbm.late.fee"
    _description = "Late Payment Fee"
    _order = "date desc, id desc"
    _check_company_auto = True

    move_line_id = fields.Many2one(
        "account.move.line", string="Installment", required=True, ondelete="cascade", readonly=True
    )
    move_id = fields.Many2one(
        "account.move",
        string="Invoice",
        required=True,
        ondelete="cascade",
        readonly=True,
        index=True,
    )
    partner_id = fields.Many2one(
        "res.partner", string="Customer", required=True, readonly=True, index=True
    )
    contract_id = fields.Many2one("rbm.contract", readonly=True, index="btree_not_null")
    policy_id = fields.Many2one("rbm.collection.policy", required=True, readonly=True)
    company_id = fields.Many2one("res.company", required=True, readonly=True)
    currency_id = fields.Many2one("res.currency", required=True, readonly=True)
    date = fields.Date(required=True, readonly=True, help="Day the fee was computed.")
    due_date = fields.Date(required=True, readonly=True)
    payment_date = fields.Date(
        string="Paid On", readonly=True, help="Last payment of the installment."
    )
    days_late = fields.Integer(
        readonly=True, help="Days between the due date and the last payment."
    )
    principal = fields.Monetary(string="Paid Late", readonly=True)
    fine_amount = fields.Monetary(string="Fine", readonly=True)
    interest_amount = fields.Monetary(string="Interest", readonly=True)
    amount = fields.Monetary(string="Total", readonly=True)
    state = fields.Selection(
        [
            ("collected", "Collected by the bank"),
            ("next_invoice", "On the next invoice"),
            ("invoiced", "Debit invoice"),
            ("waived", "Not charged"),
        ],
        required=True,
        readonly=True,
    )
    note = fields.Char(readonly=True)
    charge_id = fields.Many2one("rbm.contract.charge", readonly=True, ondelete="set null")
    debit_move_id = fields.Many2one(
        "account.move", string="Debit Invoice", readonly=True, ondelete="set null"
    )

    _sql_constraints = [
        ("installment_unique", "UNIQUE (move_line_id)", "An installment gets late fees only once."),
    ]

    @api.model
    def _get_candidates(self, today, limit=None):
        """Installments fully paid, at least partly after their due date, with
        no fee yet, under a policy that applies since before the payment.
        Returns rows (line id, policy id, payment date, days late, amount paid
        late, interest days sum) — per payment, interest counts its own days.
        Only the user's companies unless superuser."""
        company_ids = self.env["rbm.collection.run"]._get_company_ids()
        self.env.flush_all()
        self.env.cr.execute(
            _CANDIDATES_SQL + (" LIMIT %(limit)s" if limit else ""),
            {
                "today": today,
                "limit": limit,
                "all_companies": company_ids is None,
                "company_ids": company_ids or [],
            },
        )
        return self.env.cr.fetchall()

    @api.model
    def _process_paid_installments(self, today, batch_size=1000):
        """Create the late fees of installments paid late since the last run
        and charge them per policy. Returns the fees created."""
        fees = self.browse()
        while True:
            rows = self._get_candidates(today, limit=batch_size)
            if not rows:
                break
            fees |= self._create_from_rows(today, rows)
            if len(rows) < batch_size:
                break
        return fees

    @api.model
    def _create_from_rows(self, today, rows):
        AML = self.env["account.move.line"]
        Policy = self.env["rbm.collection.policy"]
        lines = AML.browse([row[0] for row in rows])
        lines.fetch(["move_id", "date_maturity", "company_id", "currency_id"])
        collected = self._get_collected_by_bank(lines)
        vals_list = []
        for line_id, policy_id, payment_date, days_late, late_amount, amount_days in rows:
            line = AML.browse(line_id)
            policy = Policy.browse(policy_id)
            move = line.move_id
            currency = move.currency_id
            partner = move.commercial_partner_id
            is_consumer = not partner.is_company
            fine, interest = policy._compute_late_fee(
                float(late_amount), float(amount_days), is_consumer, currency
            )
            vals = {
                "move_line_id": line.id,
                "move_id": move.id,
                "partner_id": partner.id,
                "contract_id": move.rbm_contract_id.id,
                "policy_id": policy.id,
                "company_id": move.company_id.id,
                "currency_id": currency.id,
                "date": today,
                "due_date": line.date_maturity,
                "payment_date": payment_date,
                "days_late": days_late,
                "principal": float(late_amount),
                "fine_amount": fine,
                "interest_amount": interest,
                "amount": currency.round(fine + interest),
            }
            bank = collected.get(line.id)
            if bank:
                vals.update(
                    state="collected",
                    fine_amount=0.0,
                    interest_amount=bank,
                    amount=bank,
                    note=_("Interest and fine received with the boleto payment."),
                )
            elif policy.late_fee_mode == "none":
                vals.update(state="waived", note=_("The policy does not charge late fees."))
            elif currency.compare_amounts(vals["amount"], policy.late_fee_minimum) < 0 or (
                currency.is_zero(vals["amount"])
            ):
                vals.update(state="waived", note=_("Below the policy's minimum late fee."))
            elif (
                policy.late_fee_mode == "next_invoice"
                and move.rbm_contract_id
                and move.rbm_contract_id.state in ("active", "suspended", "trial")
            ):
                vals["state"] = "next_invoice"
            else:
                vals["state"] = "invoiced"
            vals_list.append(vals)
        fees = self.create(vals_list)
        fees.filtered(lambda f: f.state == "next_invoice")._charge_on_next_invoice()
        fees.filtered(lambda f: f.state == "invoiced")._charge_as_debit()
        return fees

    @api.model
    def _get_collected_by_bank(self, lines):
        """{installment id: interest and fine received} from CNAB returns."""
        if not lines:
            return {}
        self.env.cr.execute(
            """
            SELECT b.move_line_id, SUM(o.interest_fine)
              FROM rbm_cnab_occurrence o
              JOIN rbm_boleto b ON b.id = o.boleto_id
             WHERE b.move_line_id = ANY(%s) AND o.interest_fine > 0
          GROUP BY b.move_line_id
            """,
            [lines.ids],
        )
        return {line_id: float(amount) for line_id, amount in self.env.cr.fetchall()}

    def _describe(self):
        self.ensure_one()
        return _(
            "Late payment of %(invoice)s due %(due)s, paid %(paid)s (%(days)s days): fine "
            "%(fine)s + interest %(interest)s",
            invoice=self.move_id.name,
            due=format_date(self.env, self.due_date),
            paid=format_date(self.env, self.payment_date),
            days=self.days_late,
            fine=format_amount(self.env, self.fine_amount, self.currency_id),
            interest=format_amount(self.env, self.interest_amount, self.currency_id),
        )

    def _charge_on_next_invoice(self):
        Charge = self.env["rbm.contract.charge"]
        for fee in self:
            lang = fee.partner_id.lang
            fee_lang = fee.with_context(lang=lang) if lang else fee
            fee.charge_id = Charge.create(
                {
                    "contract_id": fee.contract_id.id,
                    "date": fee.date,
                    "product_id": fee.policy_id.late_fee_product_id.id,
                    "name": fee_lang._describe(),
                    "amount": fee.amount,
                    # interest and fines are owed as computed, like the debit invoice
                    "untaxed": True,
                }
            )
            fee.contract_id.message_post(body=fee._describe())

    def _charge_as_debit(self):
        Move = self.env["account.move"]
        vals_list = []
        for fee in self:
            lang = fee.partner_id.lang
            fee_lang = fee.with_context(lang=lang) if lang else fee
            product = fee.policy_id.late_fee_product_id
            vals = fee.contract_id._prepare_invoice_header(
                "out_invoice", fee.date, debit_of=fee.move_id
            )
            vals["invoice_line_ids"] = [
                fields.Command.create(
                    {
                        "product_id": product.id,
                        "name": fee_lang._describe(),
                        "quantity": 1.0,
                        "price_unit": fee.amount,
                        "tax_ids": [fields.Command.clear()],
                    }
                )
            ]
            vals_list.append(vals)
        if not vals_list:
            return
        debits = Move.create(vals_list)
        debits.action_post()
        for fee, debit in zip(self, debits, strict=True):
            fee.debit_move_id = debit
            fee.move_id.message_post(
                body=_("%(fee)s — debit invoice %(debit)s.", fee=fee._describe(), debit=debit.name)
            )

    def action_open_source(self):
        check_staff_access(self, "read")
        self.ensure_one()
        return (self.debit_move_id or self.move_id)._get_records_action()
