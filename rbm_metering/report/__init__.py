from . import rbm_usage_statement_report
