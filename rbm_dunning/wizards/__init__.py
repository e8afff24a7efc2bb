from . import rbm_cnab_import_wizard, rbm_debit_import_wizard
