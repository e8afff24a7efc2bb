from . import test_authorization, test_cobv, test_connection
