from . import test_boleto, test_cnab, test_debit, test_pix, test_portal
