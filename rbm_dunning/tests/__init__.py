from . import test_boleto, test_card, test_card_portal, test_cnab, test_portal
