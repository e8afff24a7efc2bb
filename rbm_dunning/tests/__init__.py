from . import test_boleto, test_cnab, test_portal
