from . import test_cobv, test_connection, test_cycle_charge
