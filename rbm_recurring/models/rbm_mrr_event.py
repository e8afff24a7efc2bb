from itertools import groupby
from operator import itemgetter

from odoo import api, fields, models
from odoo.tools import SQL, float_compare, float_round

EVENT_TYPES = [
    ("new", "New"),
    ("expansion", "Expansion"),
    ("contraction", "Contraction"),
    ("churn", "Churn"),
    ("reactivation", "Reactivation"),
]

REASONS = [
    ("start", "Start"),
    ("upgrade", "Upgrade"),
    ("downgrade", "Downgrade"),
    ("quantity", "Quantity change"),
    ("addon", "Add-on"),
    ("adjustment", "Price adjustment"),
    ("campaign", "Campaign"),
    ("campaign_end", "Campaign end"),
    ("suspension", "Suspension"),
    ("reactivation", "Reactivation"),
    ("cancellation", "Cancellation"),
    ("expiry", "Expiry"),
    ("other", "Other change"),
]


class RbmMrrEvent(models.Model):
    _name = "rbm.mrr.event"
    _description = "MRR Movement"
    _order = "date desc, id desc"
    _check_company_auto = True

    # ------------------------------------------------------------
    # FIELDS
    # ------------------------------------------------------------

    contract_id = fields.Many2one(
        "rbm.contract", required=True, ondelete="cascade", index=True, readonly=True
    )
    partner_id = fields.Many2one(
        related="contract_id.commercial_partner_id", store=True, string="Customer"
    )
    plan_id = fields.Many2one("rbm.plan", readonly=True, index=True)
    user_id = fields.Many2one(related="contract_id.user_id", store=True, string="Salesperson")
    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)
    currency_id = fields.Many2one("res.currency", required=True, readonly=True)
    date = fields.Date(required=True, readonly=True, index=True)
    event_type = fields.Selection(
        EVENT_TYPES,
        string="Type",
        required=True,
        readonly=True,
        help="The movement of the customer's MRR (all their contracts together): new when "
        "it goes from 0 to more for the first time, reactivation when it does so again, churn "
        "when it falls to 0, else expansion or contraction. The movements of one customer on "
        "one day share the type of the day's net change, so a contract replaced by another "
        "the same day is an expansion or a contraction.",
    )
    contract_event_type = fields.Selection(
        EVENT_TYPES,
        string="Contract Movement",
        readonly=True,
        help="The movement of this contract's own MRR, whatever the customer's other contracts do.",
    )
    reason = fields.Selection(REASONS, required=True, readonly=True, default="other")
    mrr_before = fields.Monetary(string="MRR Before", readonly=True)
    delta = fields.Monetary(string="MRR Change", readonly=True)
    mrr_after = fields.Monetary(string="MRR After", readonly=True)
    customer_mrr_before = fields.Monetary(
        string="Customer MRR Before",
        readonly=True,
        help="MRR of all the customer's contracts just before this movement.",
    )
    customer_mrr_after = fields.Monetary(
        string="Customer MRR After",
        readonly=True,
        help="MRR of all the customer's contracts just after this movement.",
    )

    # ------------------------------------------------------------
    # BUSINESS METHODS
    # ------------------------------------------------------------

    @api.model
    def _reclassify_customer_events(self, partner_ids=None):
        """Set the type of the movements of the customers ``partner_ids``
        (all customers when None) from the customer's MRR, all contracts
        together, day by day (the movements of a day in id order):

        * MRR at the end of the previous day > 0 and at the end of the day
          > 0: expansion when it rose or stayed, else contraction;
        * from 0 to > 0: new, or reactivation when the customer had MRR
          before;
        * from > 0 to 0: churn;
        * from 0 to 0 (a contract started and stopped the same day): by the
          sign of each movement.

        Also stores the customer's MRR before and after each movement. One
        read and batched updates of the rows that change; deterministic, so
        running it again writes nothing. Returns the number of rows changed."""
        self.env["rbm.contract"].flush_model(["commercial_partner_id"])
        self.flush_model()
        condition = SQL("TRUE")
        if partner_ids is not None:
            condition = SQL("e.partner_id IN %s", tuple(partner_ids) or (0,))
        self.env.cr.execute(
            SQL(
                """
                SELECT e.id, e.partner_id, e.contract_id, e.date, e.currency_id, e.delta,
                       e.mrr_after, e.event_type, e.customer_mrr_before, e.customer_mrr_after
                  FROM rbm_mrr_event e
                 WHERE %s
              ORDER BY e.partner_id, e.date, e.id
                """,
                condition,
            )
        )
        rows = self.env.cr.fetchall()
        # the currencies' rounding, read once (not a record access per row)
        rounding = {
            currency.id: currency.rounding
            for currency in self.env["res.currency"].browse({row[4] for row in rows})
        }
        changes = []
        for _partner, partner_rows in groupby(rows, key=itemgetter(1)):
            running = {}
            had_mrr = False
            for _day, day_rows in groupby(partner_rows, key=itemgetter(3)):
                day_rows = list(day_rows)
                step = rounding[day_rows[0][4]]

                def money(value, step=step):
                    return float_round(value, precision_rounding=step)

                def differ(a, b, step=step):
                    return float_compare(a, b, precision_rounding=step) != 0

                opening = money(sum(running.values()))
                customer = []
                for row in day_rows:
                    before = money(sum(running.values()))
                    running[row[2]] = row[6] or 0.0
                    customer.append((before, money(sum(running.values()))))
                closing = customer[-1][1]
                # rounded to the cent: above 0 is at least a cent
                opened, closed = opening > 0, closing > 0
                for row, (before, after) in zip(day_rows, customer, strict=True):
                    if opened and closed:
                        event_type = "expansion" if closing >= opening else "contraction"
                    elif closed or (not opened and (row[5] or 0.0) > 0):
                        event_type = "reactivation" if had_mrr else "new"
                    else:
                        event_type = "churn"
                    if (
                        row[7] != event_type
                        or row[8] is None
                        or row[9] is None
                        or differ(row[8], before)
                        or differ(row[9], after)
                    ):
                        changes.append((row[0], event_type, before, after))
                had_mrr = had_mrr or any(after > 0 for _before, after in customer)
        for start in range(0, len(changes), 1000):
            values = SQL(", ").join(
                SQL("(%s, %s, %s::numeric, %s::numeric)", *change)
                for change in changes[start : start + 1000]
            )
            self.env.cr.execute(
                SQL(
                    """
                    UPDATE rbm_mrr_event e
                       SET event_type = v.event_type,
                           customer_mrr_before = v.customer_before,
                           customer_mrr_after = v.customer_after
                      FROM (VALUES %s) AS v(id, event_type, customer_before, customer_after)
                     WHERE e.id = v.id
                    """,
                    values,
                )
            )
        if changes:
            self.invalidate_model(["event_type", "customer_mrr_before", "customer_mrr_after"])
        return len(changes)
