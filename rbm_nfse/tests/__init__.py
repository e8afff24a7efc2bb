from . import (
    test_danfse,
    test_nfse_concurrency,
    test_nfse_errors,
    test_nfse_issue,
    test_nfse_l10n_br,
    test_nfse_replace,
    test_nfse_settings,
    test_nfse_tour,
)
