import base64

from odoo import _, api, models
from odoo.exceptions import UserError

from . import danfse


class ReportDanfse(models.AbstractModel):
    """The DANFSe of issued NFS-e, rendered from the XML the Sefin Nacional returned."""

    _name = "report.rbm_nfse.report_danfse"
    _description = "DANFSe"

    @api.model
    def _get_report_values(self, docids, data=None):
        docs = self.env["rbm.nfse"].browse(docids)
        # the caller reads these NFS-e (the XML is read below as superuser)
        docs.check_access("read")
        pages = {}
        for nfse in docs:
            xml = nfse.sudo().nfse_attachment_id.raw
            if not xml:
                raise UserError(
                    _(
                        "The NFS-e of %(invoice)s has no XML from the Sefin Nacional yet: its "
                        "DANFSe is printed once it is issued.",
                        invoice=nfse.move_id.display_name,
                    )
                )
            situation = _situation(nfse)
            try:
                values = danfse.read(xml, situation=situation)
            except danfse.DanfseError as error:
                raise UserError(
                    _(
                        "The NFS-e XML of %(invoice)s cannot be printed: %(reason)s",
                        invoice=nfse.move_id.display_name,
                        reason=str(error),
                    )
                ) from error
            values["qr_image"] = self._qr_image(values["qr_url"])
            pages[nfse.id] = values
        return {
            "doc_ids": docs.ids,
            "doc_model": "rbm.nfse",
            "docs": docs,
            "danfse": pages,
        }

    @api.model
    def _qr_image(self, url):
        """The QR code of the consultation address (Odoo's QR support) as a PNG data URI."""
        png = self.env["ir.actions.report"].barcode(
            "QR", url, width=300, height=300, barLevel="M", quiet=0
        )
        return "data:image/png;base64," + base64.b64encode(png).decode()


def _situation(nfse):
    """The DANFSe's watermark: a replaced NFS-e (cancelled by substitution) prints
    SUBSTITUÍDA, another cancelled one CANCELADA."""
    if nfse.replaced_by_id:
        return "replaced"
    return "cancelled" if nfse.state == "cancelled" else None
