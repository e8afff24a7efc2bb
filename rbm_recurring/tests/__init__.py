from . import test_billing, test_concurrency, test_portal
