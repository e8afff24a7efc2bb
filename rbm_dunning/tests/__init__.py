from . import (
    test_boleto,
    test_boleto_follow,
    test_card,
    test_card_portal,
    test_cnab,
    test_cnab400,
    test_collection,
    test_debit,
    test_delinquency,
    test_l10n_br,
    test_pix,
    test_portal,
)
