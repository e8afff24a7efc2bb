from . import rbm_demo_br
