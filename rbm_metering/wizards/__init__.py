from . import rbm_api_key_wizard, rbm_usage_import_wizard
