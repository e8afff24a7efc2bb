from . import test_billing
from . import test_portal
