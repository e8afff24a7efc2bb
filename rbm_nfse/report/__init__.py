from . import report_danfse
