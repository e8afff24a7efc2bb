from collections import defaultdict
from itertools import groupby

from odoo import api, fields, models

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
        together, day by day (the movements of a day are ordered by id):

        * MRR at the end of the previous day > 0 and at the end of the day
          > 0: expansion when it rose or stayed, else contraction;
        * from 0 to > 0: new, or reactivation when the customer had MRR
          before;
        * from > 0 to 0: churn;
        * from 0 to 0 (a contract started and stopped the same day): by the
          sign of each movement.

        Deterministic: running it again writes nothing. Returns the number of
        movements whose type changed."""
        domain = [] if partner_ids is None else [("partner_id", "in", list(partner_ids))]
        self.flush_model()
        events = self.sudo().with_context(active_test=False).search(domain, order="id")
        if not events:
            return 0
        by_partner = defaultdict(list)
        for event in events:
            by_partner[event.partner_id.id].append(event)
        updates = defaultdict(lambda: self.browse())
        values = {}
        for partner_events in by_partner.values():
            partner_events.sort(key=lambda e: (e.date, e.id))
            running = {}
            had_mrr = False
            for _day, day_events in groupby(partner_events, key=lambda e: e.date):
                day_events = list(day_events)
                currency = day_events[0].currency_id
                opening = sum(running.values())
                peak = False
                for event in day_events:
                    before = sum(running.values())
                    running[event.contract_id.id] = event.mrr_after
                    after = sum(running.values())
                    values[event.id] = (currency.round(before), currency.round(after))
                    peak = peak or not currency.is_zero(after) and after > 0
                closing = sum(running.values())
                opened, closed = not currency.is_zero(opening), not currency.is_zero(closing)
                for event in day_events:
                    if opened and closed:
                        event_type = (
                            "expansion"
                            if currency.compare_amounts(closing, opening) >= 0
                            else "contraction"
                        )
                    elif closed:
                        event_type = "reactivation" if had_mrr else "new"
                    elif opened:
                        event_type = "churn"
                    elif event.delta > 0:
                        event_type = "reactivation" if had_mrr else "new"
                    else:
                        event_type = "churn"
                    customer_before, customer_after = values[event.id]
                    if (
                        event.event_type != event_type
                        or currency.compare_amounts(event.customer_mrr_before, customer_before)
                        or currency.compare_amounts(event.customer_mrr_after, customer_after)
                    ):
                        updates[(event_type, customer_before, customer_after)] |= event
                had_mrr = had_mrr or peak
        changed = 0
        for (event_type, customer_before, customer_after), records in updates.items():
            changed += len(records)
            records.write(
                {
                    "event_type": event_type,
                    "customer_mrr_before": customer_before,
                    "customer_mrr_after": customer_after,
                }
            )
        return changed
