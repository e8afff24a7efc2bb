from . import rbm_cnab_import_wizard
