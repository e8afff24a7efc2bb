from . import (
    test_boleto,
    test_cnab,
    test_collection,
    test_delinquency,
    test_portal,
)
