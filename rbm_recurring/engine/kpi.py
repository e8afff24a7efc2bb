"""Revenue KPIs computed from MRR movement rows (plain Python, no Odoo import).

Input rows are ``(contract_id, partner_id, date, event_type, delta, mrr_after)``
tuples, one per change of a contract's effective MRR (``rbm.mrr.event``);
``partner_id`` is the commercial partner (the *customer*). Rows dated before
the period only set the opening state; they may be the full history or, as
``rbm.kpi`` passes them, only the last row of each contract before the period
(``event_type`` is then ignored). Amounts are summed as they are: the rows are
expected in one currency.

Definitions (``d`` a date, a *month* the calendar month clipped to the period):

* **MRR(d)** = Σ over contracts of the ``mrr_after`` of their last row on or
  before ``d``; **ARR** = 12 × MRR. The period's opening MRR is MRR(date_from
  − 1 day), a month's opening MRR is MRR at the end of the day before it.
* **Active contracts / customers at d**: contracts with MRR(d) > 0 / distinct
  customers whose total MRR(d) > 0.
* **Movements** of a month or of the period: Σ ``delta`` by ``event_type``
  (new, expansion, contraction, churn, reactivation) of the rows dated inside
  it; **net new MRR** = Σ of all deltas, so closing MRR = opening MRR + net new.
  The type is the customer's movement, all their contracts together, day by
  day (``rbm.mrr.event._reclassify_customer_events``): 0 → more is new, or
  reactivation after having had MRR; more → 0 churn; else expansion or
  contraction by the day's net change.
* **Logo churn rate**: customers with MRR > 0 at the start and 0 at the end ÷
  customers active at the start.
* **Revenue churn** (gross MRR churn; amount, positive) = −Σ delta of the churn and contraction
  rows of the customers active at the start; **revenue churn rate** = revenue
  churn ÷ opening MRR.
* **GRR** = (opening MRR − revenue churn) ÷ opening MRR.
* **NRR** = closing MRR of the customers active at the start ÷ opening MRR,
  i.e. (opening MRR + their expansion + their reactivation + the MRR of new
  contracts of these existing customers − their contraction − their churn) ÷
  opening MRR: a reactivation or a further contract of an existing customer
  counts as expansion; customers who were not active at the start (new or
  won back) are left out.
* Period rates compare the period's start and end; the ``months`` list gives
  the same rates month by month (churn and retention curves).
* **ARPA** = MRR(date_to) ÷ active customers at date_to.
* **LTV** = ARPA ÷ average monthly revenue churn rate (mean over the months of
  the period with an opening MRR); ``None`` when that rate is 0.
* **Cohorts**: customers grouped by the month of their first ``new`` row,
  for the cohort months inside the period. A cohort's size is its number of
  customers, its starting MRR the Σ delta of their ``new`` rows in the cohort
  month. For each month end from the cohort month to the period end: share of
  the customers still active (MRR > 0), and their MRR ÷ starting MRR (over 100%
  with expansion).

Rates are fractions (0.25 = 25%) or ``None`` when their denominator is 0;
amounts are rounded to cents.
"""

from collections import defaultdict
from datetime import date, timedelta
from operator import itemgetter

EVENT_TYPES = ("new", "expansion", "contraction", "churn", "reactivation")
EPSILON = 0.005  # below half a cent an MRR is zero


def month_start(day):
    return day.replace(day=1)


def month_end(day):
    nxt = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return nxt - timedelta(days=1)


def add_months(day, months):
    """First day of the month ``months`` after the month of ``day``."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_windows(date_from, date_to):
    """``(start, end)`` of each calendar month of the period, clipped to it."""
    windows = []
    start = date_from
    while start <= date_to:
        end = min(month_end(start), date_to)
        windows.append((start, end))
        start = end + timedelta(days=1)
    return windows


def _ratio(num, den):
    return num / den if den else None


def _money(value):
    return round(value + 0.0, 2) + 0.0  # + 0.0: no -0.0


class _Book:
    """Running MRR per contract and per customer while rows are applied."""

    def __init__(self):
        self.contract_mrr = {}
        self.contract_partner = {}
        self.partner_mrr = defaultdict(float)

    def apply(self, contract, partner, mrr_after):
        old = self.contract_mrr.get(contract, 0.0)
        old_partner = self.contract_partner.get(contract)
        if old_partner is not None and old_partner != partner:
            self.partner_mrr[old_partner] -= old
            old = 0.0
        self.contract_mrr[contract] = mrr_after
        self.contract_partner[contract] = partner
        self.partner_mrr[partner] += mrr_after - old

    def snapshot(self):
        """(total MRR, {customer: MRR > 0}, active contract count)."""
        partners = {p: _money(v) for p, v in self.partner_mrr.items() if v > EPSILON}
        contracts = sum(1 for v in self.contract_mrr.values() if v > EPSILON)
        total = _money(sum(v for v in self.contract_mrr.values()))
        return total, partners, contracts

    def active_contracts(self):
        return {c for c, v in self.contract_mrr.items() if v > EPSILON}


def _sorted(rows):
    return sorted(rows, key=itemgetter(2))  # stable: keeps the id order of a day


def state_at(rows, day):
    """``(contracts, customers)`` with MRR > 0 at ``day`` (for drill-downs)."""
    book = _Book()
    for contract, partner, row_date, _type, _delta, mrr_after in _sorted(rows):
        if row_date > day:
            break
        book.apply(contract, partner, mrr_after)
    _total, partners, _count = book.snapshot()
    return book.active_contracts(), set(partners)


def mrr_at(rows, day):
    """MRR at the end of ``day``."""
    book = _Book()
    for contract, partner, row_date, _type, _delta, mrr_after in _sorted(rows):
        if row_date > day:
            break
        book.apply(contract, partner, mrr_after)
    return book.snapshot()[0]


def _empty_movements():
    return dict.fromkeys((*EVENT_TYPES, "net_new"), 0.0)


def _window_kpis(start_snap, end_snap, movements, lost):
    """Rates of one window from its opening/closing snapshots, its movements
    and the revenue lost by the customers active at its start."""
    mrr_start, start_partners, _contracts = start_snap
    mrr_end, end_partners, contracts_end = end_snap
    churned = [p for p in start_partners if p not in end_partners]
    retained_mrr = _money(sum(end_partners.get(p, 0.0) for p in start_partners))
    lost = _money(lost)
    return {
        "mrr_start": mrr_start,
        "mrr_end": mrr_end,
        **{key: _money(value) for key, value in movements.items()},
        "customers_start": len(start_partners),
        "customers_end": len(end_partners),
        "contracts_end": contracts_end,
        "churned_customers": len(churned),
        "logo_churn_rate": _ratio(len(churned), len(start_partners)),
        "revenue_churn": lost,
        "revenue_churn_rate": _ratio(lost, mrr_start),
        "grr": _ratio(mrr_start - lost, mrr_start),
        "nrr": _ratio(retained_mrr, mrr_start),
        "retained_mrr": retained_mrr,
    }


def compute_kpis(rows, date_from, date_to, first_new=None):
    """Every KPI of the period ``[date_from, date_to]`` (see the module doc).

    ``first_new`` maps customers to the date of their first ``new`` row when
    the rows do not hold the whole history; else it is taken from the rows.
    Returns a dict: the period figures, ``months`` (one dict per month) and
    ``cohorts``.
    """
    rows = _sorted(rows)
    windows = month_windows(date_from, date_to)
    if first_new is None:
        first_new = first_new_dates(rows)
    book = _Book()
    i, n = 0, len(rows)
    while i < n and rows[i][2] < date_from:
        contract, partner, _day, _type, _delta, mrr_after = rows[i]
        book.apply(contract, partner, mrr_after)
        i += 1
    opening = book.snapshot()
    period_movements = _empty_movements()
    period_lost = 0.0
    first_month = {w[0]: index for index, w in enumerate(windows)}
    cohort_start_mrr = defaultdict(float)  # customer -> MRR signed in its cohort month
    months, snaps = [], []
    lost_partners = set()  # customers lost in any month of the period
    start_snap = opening
    for start, end in windows:
        movements = _empty_movements()
        lost = 0.0
        start_partners = start_snap[1]
        while i < n and rows[i][2] <= end:
            contract, partner, day, event_type, delta, mrr_after = rows[i]
            i += 1
            book.apply(contract, partner, mrr_after)
            movements[event_type] = movements.get(event_type, 0.0) + delta
            movements["net_new"] += delta
            if event_type in ("churn", "contraction"):
                if partner in start_partners:
                    lost -= delta
                if partner in opening[1]:
                    period_lost -= delta
            elif event_type == "new":
                first = first_new.get(partner)
                if first and start <= first <= end:
                    cohort_start_mrr[partner] += delta
        end_snap = book.snapshot()
        lost_partners.update(p for p in start_snap[1] if p not in end_snap[1])
        for key, value in movements.items():
            period_movements[key] = period_movements.get(key, 0.0) + value
        month = _window_kpis(start_snap, end_snap, movements, lost)
        month.update(month=month_start(start), date_start=start, date_end=end)
        months.append(month)
        snaps.append(end_snap)
        start_snap = end_snap
    closing = start_snap
    result = _window_kpis(opening, closing, period_movements, period_lost)
    mrr = result["mrr_end"]
    customers = result["customers_end"]
    arpa = _money(mrr / customers) if customers else None
    churn_rates = [m["revenue_churn_rate"] for m in months if m["revenue_churn_rate"] is not None]
    avg_churn = sum(churn_rates) / len(churn_rates) if churn_rates else None
    result.update(
        date_from=date_from,
        date_to=date_to,
        mrr=mrr,
        arr=_money(12 * mrr),
        active_customers=customers,
        active_contracts=result["contracts_end"],
        arpa=arpa,
        avg_monthly_revenue_churn_rate=avg_churn,
        # the month table's churned customers, added up over the period (each
        # customer once): the summary's churned customers are only those
        # active at its start
        customers_lost=len(lost_partners),
        ltv=_money(arpa / avg_churn) if arpa is not None and avg_churn else None,
        months=months,
        cohorts=_cohorts(windows, first_new, first_month, cohort_start_mrr, snaps),
    )
    return result


def _cohorts(windows, first_new, first_month, start_mrr, snaps):
    members = defaultdict(list)
    for partner, first in first_new.items():
        index = first_month.get(month_start(first))
        if index is None and windows and windows[0][0] <= first <= windows[0][1]:
            index = 0  # a period starting mid-month
        if index is not None:
            members[index].append(partner)
    cohorts = []
    for index in sorted(members):
        partners = members[index]
        size = len(partners)
        mrr0 = _money(sum(start_mrr.get(p, 0.0) for p in partners))
        cells = []
        for offset, (_total, active, _contracts) in enumerate(snaps[index:]):
            alive = [active[p] for p in partners if p in active]
            mrr = _money(sum(alive))
            cells.append(
                {
                    "offset": offset,
                    "month": month_start(windows[index + offset][0]),
                    "customers": len(alive),
                    "customer_rate": _ratio(len(alive), size),
                    "mrr": mrr,
                    "mrr_rate": _ratio(mrr, mrr0),
                }
            )
        cohorts.append(
            {
                "month": month_start(windows[index][0]),
                "customers": size,
                "mrr": mrr0,
                "partner_ids": sorted(partners, key=str),
                "cells": cells,
            }
        )
    return cohorts


def first_new_dates(rows):
    """Date of each customer's first ``new`` row."""
    first_new = {}
    for _c, partner, row_date, event_type, _d, _m in _sorted(rows):
        if event_type == "new" and partner not in first_new:
            first_new[partner] = row_date
    return first_new


def cohort_members(rows, date_to, cohort_month, offset=None, first_new=None):
    """Customers of the cohort of ``cohort_month`` (first ``new`` row in it),
    or those of them still active at the end of the month ``offset`` months
    later (for drill-downs)."""
    if first_new is None:
        first_new = first_new_dates(rows)
    partners = {p for p, first in first_new.items() if month_start(first) == cohort_month}
    if offset is None:
        return partners
    day = min(month_end(add_months(cohort_month, offset)), date_to)
    return partners & state_at(rows, day)[1]
