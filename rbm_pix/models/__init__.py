from . import rbm_pix_connection
