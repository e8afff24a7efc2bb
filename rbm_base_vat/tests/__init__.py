from . import test_base_vat
