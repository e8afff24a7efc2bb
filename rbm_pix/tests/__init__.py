from . import test_boleto_hybrid, test_cobv, test_connection, test_refund
