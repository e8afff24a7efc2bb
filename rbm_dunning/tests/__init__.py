from . import (
    test_boleto,
    test_cnab,
    test_collection,
    test_debit,
    test_delinquency,
    test_pix,
    test_portal,
)
