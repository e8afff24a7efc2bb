from . import (
    rbm_aging_report_wizard,
    rbm_cnab_import_wizard,
    rbm_collection_simulation,
    rbm_debit_import_wizard,
)
