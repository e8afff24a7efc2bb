from . import test_connection
