from . import test_cobv, test_connection
from . import test_refund
from . import test_boleto_hybrid
