from . import test_boleto, test_boleto_follow, test_cnab, test_cnab400, test_portal
