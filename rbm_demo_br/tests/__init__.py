from . import test_buttons, test_demo_br
