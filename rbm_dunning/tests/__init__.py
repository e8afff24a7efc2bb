from . import test_boleto, test_cnab, test_collection, test_portal
