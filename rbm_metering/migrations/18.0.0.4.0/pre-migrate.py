"""Before the CHECK constraint on rbm_usage.quantity (a number from 0 to
1,000,000,000,000) is added: every stored event whose quantity violates it
(NaN, infinite, negative or above the bound) is rejected with quantity 0, out
of any invoice line, and a note in its reason keeping the original value and
state, so that the constraint can be created and no list, statement or
billing run ever reads such a quantity again."""

import logging

_logger = logging.getLogger(__name__)

MAX_QUANTITY = 10**12


def reject_invalid_quantities(cr):
    """Reject the events whose quantity the constraint refuses; returns how many."""
    cr.execute("SELECT to_regclass('rbm_usage') IS NOT NULL")
    if not cr.fetchone()[0]:
        return 0
    # NaN is greater than every number in PostgreSQL: the condition selects it
    cr.execute(
        """
        UPDATE rbm_usage
           SET reason = 'Rejected by the upgrade: its quantity ' || quantity::text
                        || ' is not a number from 0 to 1000000000000 (state was '
                        || state
                        || COALESCE(', invoice line ' || invoice_line_id::text, '')
                        || ')' || COALESCE('; ' || reason, ''),
               quantity = 0, state = 'rejected',
               invoice_line_id = NULL, released_line_id = NULL,
               write_date = now() AT TIME ZONE 'UTC'
         WHERE NOT (quantity >= 0 AND quantity <= %s)
        RETURNING id
        """,
        [MAX_QUANTITY],
    )
    ids = [row[0] for row in cr.fetchall()]
    if ids:
        _logger.warning(
            "rbm_metering: %s usage events with a quantity that is not a number from 0 to "
            "%s were rejected with quantity 0 (ids %s)",
            len(ids),
            MAX_QUANTITY,
            ids[:100],
        )
    return len(ids)


def migrate(cr, version):
    if version:
        reject_invalid_quantities(cr)
