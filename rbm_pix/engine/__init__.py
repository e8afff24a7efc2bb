"""Plain-Python Pix API pieces (no Odoo import).

- ``pix_api``: a client for one PSP connection speaking the Banco Central's standard Pix API
  (OpenAPI 2.9.0): OAuth2 client credentials, mutual TLS, timeouts, retries of idempotent
  calls only, RFC 7807 errors as ``PixApiError``, and checks of what is sent against the
  specification's schema rules before any call.
- ``certificates``: the client certificate for mutual TLS read from PEM or PKCS#12 uploads.
- ``token_cache``: OAuth2 tokens shared by the clients of one process.
"""
