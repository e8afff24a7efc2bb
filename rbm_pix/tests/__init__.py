from . import test_authorization, test_cobv, test_connection, test_cycle_charge
