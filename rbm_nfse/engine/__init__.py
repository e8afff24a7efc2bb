"""Plain-Python NFS-e Nacional pieces (no Odoo import).

- ``certificate``: the A1 certificate (PKCS#12) of the issuer: key, certificate, subject, the
  CNPJ it was issued to and its expiry.
- ``dps``: the DPS (Declaração de Prestação de Serviço) of layout 1.01 built from plain
  dataclasses with nfelib's bindings, checked against the official XSD, signed (XMLDSig
  enveloped, RSA-SHA256) and packed (gzip + base64); the cancellation event (e101101).
- ``sefin``: a client of the Sefin Nacional API (mutual TLS, timeouts, no blind resend).
"""
