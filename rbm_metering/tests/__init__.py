from . import test_api, test_ingestion, test_rating
