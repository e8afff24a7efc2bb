"""Usage ingestion API.

``POST /rbm/api/v1/usage`` with ``Authorization: Bearer <key>`` and a JSON body
``{"events": [{"idempotency_key", "metric", "contract_id" | "contract_reference",
"quantity", "timestamp", "properties"}, ...]}`` (at most 10,000 events, 10 MB).
Answers ``200`` with one result per event (accepted, duplicate or rejected with
a reason); ``400``/``401``/``413``/``415`` with ``{"error": {"code", "message"}}``.
Usage is stored as the API's technical user, with the key it was sent with.
"""

import json
import logging

from odoo import http
from odoo.http import request

from ..models.rbm_usage import MAX_BATCH

_logger = logging.getLogger(__name__)

MAX_BODY = 10 * 1024 * 1024


def _json_response(payload, status=200, headers=None):
    return request.make_json_response(payload, status=status, headers=headers)


def _error(status, code, message, headers=None):
    return _json_response({"error": {"code": code, "message": message}}, status, headers)


class RbmUsageApi(http.Controller):
    @http.route(
        "/rbm/api/v1/usage",
        type="http",
        auth="none",
        methods=["POST"],
        csrf=False,
        save_session=False,
        readonly=False,
    )
    def usage_ingest(self, **kwargs):
        httprequest = request.httprequest
        header = httprequest.headers.get("Authorization", "")
        scheme, _sep, token = header.partition(" ")
        challenge = {"WWW-Authenticate": 'Bearer realm="rbm"'}
        if scheme.lower() != "bearer" or not token.strip():
            return _error(
                401, "missing_api_key", "Send Authorization: Bearer <API key>.", challenge
            )
        api_key = request.env["rbm.api.key"]._authenticate(token.strip())
        if not api_key:
            return _error(401, "invalid_api_key", "The API key is wrong or revoked.", challenge)
        if (httprequest.content_length or 0) > MAX_BODY:
            return _error(413, "body_too_large", "The body must not exceed 10 MB.")
        mimetype = httprequest.mimetype or ""
        if mimetype and mimetype != "application/json":
            return _error(415, "unsupported_media_type", "Send Content-Type: application/json.")
        # cached on the request: a request replayed after a serialization
        # failure (two clients sending the same keys at once) reads it again
        data = httprequest.get_data()
        if len(data) > MAX_BODY:
            return _error(413, "body_too_large", "The body must not exceed 10 MB.")
        try:
            payload = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            return _error(400, "invalid_json", "The body is not valid JSON.")
        events = payload.get("events") if isinstance(payload, dict) else None
        if not isinstance(events, list):
            return _error(400, "invalid_payload", 'The body must be {"events": [...]}.')
        if len(events) > MAX_BATCH:
            return _error(413, "too_many_events", f"At most {MAX_BATCH} events per request.")
        company = api_key.company_id
        api_user = api_key._get_api_user()
        Usage = request.env["rbm.usage"].with_user(api_user).with_company(company)
        results = Usage._ingest(company, events, source="api", api_key=api_key)
        summary = {"accepted": 0, "duplicate": 0, "rejected": 0}
        for result in results:
            summary[result["status"]] += 1
        return _json_response({**summary, "results": results})

    @http.route(
        "/rbm/api/v1/openapi.json", type="http", auth="none", methods=["GET"], save_session=False
    )
    def usage_openapi(self, **kwargs):
        return _json_response(openapi_spec())


def openapi_spec():
    error = {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            }
        },
    }
    reasons = [
        "invalid_event",
        "missing_key",
        "bad_key",
        "unknown_metric",
        "unknown_contract",
        "bad_quantity",
        "bad_timestamp",
        "bad_properties",
        "future_timestamp",
        "contract_not_active",
        "metric_not_on_contract",
        "closed_period",
        "duplicate",
    ]
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "RBM usage ingestion API",
            "version": "1.0.0",
            "description": "Send metered usage events in batches. Each event is answered "
            "accepted, duplicate (its idempotency key was already received) or rejected "
            "with a reason; a rejected event never blocks the others.",
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Event": {
                    "type": "object",
                    "required": ["idempotency_key", "metric", "quantity"],
                    "properties": {
                        "idempotency_key": {"type": "string", "maxLength": 255},
                        "metric": {"type": "string", "description": "Metric code"},
                        "contract_id": {"type": "integer"},
                        "contract_reference": {
                            "type": "string",
                            "description": "The contract's customer reference (instead of id)",
                        },
                        "quantity": {"type": "number", "minimum": 0},
                        "timestamp": {
                            "type": "string",
                            "format": "date-time",
                            "description": "ISO 8601; naive means UTC; default now",
                        },
                        "properties": {"type": "object"},
                    },
                },
                "Result": {
                    "type": "object",
                    "properties": {
                        "index": {"type": "integer"},
                        "idempotency_key": {"type": "string", "nullable": True},
                        "status": {"type": "string", "enum": ["accepted", "duplicate", "rejected"]},
                        "reason": {"type": "string", "enum": reasons},
                        "message": {"type": "string"},
                    },
                },
                "Error": error,
            },
        },
        "security": [{"bearer": []}],
        "paths": {
            "/rbm/api/v1/usage": {
                "post": {
                    "summary": "Ingest a batch of usage events",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["events"],
                                    "properties": {
                                        "events": {
                                            "type": "array",
                                            "maxItems": MAX_BATCH,
                                            "items": {"$ref": "#/components/schemas/Event"},
                                        }
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "One result per event, in order",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {
                                            "accepted": {"type": "integer"},
                                            "duplicate": {"type": "integer"},
                                            "rejected": {"type": "integer"},
                                            "results": {
                                                "type": "array",
                                                "items": {"$ref": "#/components/schemas/Result"},
                                            },
                                        },
                                    }
                                }
                            },
                        },
                        **{
                            str(code): {
                                "description": text,
                                "content": {
                                    "application/json": {
                                        "schema": {"$ref": "#/components/schemas/Error"}
                                    }
                                },
                            }
                            for code, text in (
                                (400, 'Not JSON or not {"events": [...]}'),
                                (401, "Missing, wrong or revoked API key"),
                                (413, "More than 10,000 events or 10 MB"),
                                (415, "Not application/json"),
                            )
                        },
                    },
                }
            }
        },
    }
