from . import test_cobv, test_connection
from . import test_refund
