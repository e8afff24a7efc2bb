from . import test_cobv, test_connection
