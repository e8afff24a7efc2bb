"""Vocabulary shared by the models of rbm_nfse."""

# when the NFS-e of an invoice is issued: per company, a plan may override it
ISSUE_MOMENTS = [
    ("post", "When the invoice is posted"),
    ("payment", "When the invoice is paid"),
    ("before_due", "Days before the due date"),
]
# the Sefin Nacional by environment (tpAmb): 2 "produção restrita" (tests), 1 production
SEFIN_URLS = {
    "2": "https://sefin.producaorestrita.nfse.gov.br/SefinNacional",
    "1": "https://sefin.nfse.gov.br/SefinNacional",
}
# the service data of the NFS-e (rbm.nfse.service.mixin), resolved field by field
SERVICE_FIELDS = (
    "nfse_service_code",
    "nfse_municipal_code",
    "nfse_nbs_code",
    "nfse_iss_rate",
    "nfse_iss_withheld",
    "nfse_cp_rate",
    "nfse_irrf_rate",
    "nfse_csll_rate",
    "nfse_ibscbs_cst",
    "nfse_ibscbs_class",
    "nfse_operation_indicator",
)
# the NFS-e of an invoice
STATES = [
    ("to_issue", "To Issue"),
    ("sent", "Sent"),
    ("issued", "Issued"),
    ("rejected", "Rejected"),
    ("cancelled", "Cancelled"),
]
