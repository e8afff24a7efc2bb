from . import test_demo_br
