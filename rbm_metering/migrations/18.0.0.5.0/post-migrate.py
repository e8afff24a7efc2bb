"""Usage prices get their own decimal precision ("RBM Usage Price", 6
decimals) instead of "Product Price". The columns keep their type (numeric
without scale), so every stored price is kept as it is; the precision is
raised to "Product Price"'s when a database had set that one above 6, so that
no stored price has more decimals than its field now keeps (it would be
refused on the next save of its line)."""

import logging

_logger = logging.getLogger(__name__)


def migrate(cr, version):
    if not version:
        return
    cr.execute("SELECT digits FROM decimal_precision WHERE name = 'Product Price'")
    row = cr.fetchone()
    product_digits = row[0] if row else 2
    cr.execute(
        """
        UPDATE decimal_precision SET digits = %s
         WHERE name = 'RBM Usage Price' AND digits < %s
        RETURNING id
        """,
        [product_digits, product_digits],
    )
    if cr.fetchall():
        _logger.info(
            "rbm_metering: usage price precision raised to %s decimals (Product Price)",
            product_digits,
        )
