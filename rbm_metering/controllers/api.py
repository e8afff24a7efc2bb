"""Usage ingestion API.

``POST /rbm/api/v1/usage`` with ``Authorization: Bearer <key>`` and a JSON body
``{"events": [{"idempotency_key", "metric", "contract_id" | "contract_reference",
"quantity", "timestamp", "properties"}, ...]}`` (at most 10,000 events, 10 MB).
Answers ``200`` with one result per event (accepted, duplicate or rejected with
a reason, see ``engine/usage_input.py`` for the bounds of each field);
``400``/``401``/``413``/``415`` with ``{"error": {"code", "message"}}``.
Usage is stored as the API's technical user, with the key it was sent with.
"""

import json
import logging

from odoo import http
from odoo.http import request

from ..engine import usage_input as ui

_logger = logging.getLogger(__name__)

MAX_BODY = 10 * 1024 * 1024
SUMMARY = ("accepted", "duplicate", "rejected")

# (status, code, message) of every answer that refuses the whole request
ERRORS = {
    "missing_api_key": (401, "Send Authorization: Bearer <API key>."),
    "invalid_api_key": (401, "The API key is wrong or revoked."),
    "body_too_large": (413, "The body must not exceed 10 MB."),
    "too_many_events": (413, f"At most {ui.MAX_BATCH} events per request."),
    "unsupported_media_type": (415, "Send Content-Type: application/json."),
    "invalid_json": (400, "The body is not valid JSON (UTF-8)."),
    "too_deep": (400, "The body is nested too deeply to be read."),
    "invalid_payload": (400, 'The body must be {"events": [...]}.'),
}


def _json_response(payload, status=200, headers=None):
    # ASCII only (non-ASCII as \\u escapes): the length is the bytes' length
    body = json.dumps(payload, allow_nan=False)
    all_headers = [("Content-Type", "application/json; charset=utf-8")]
    all_headers += list((headers or {}).items())
    return request.make_response(body, headers=all_headers, status=status)


def _error(code, headers=None):
    status, message = ERRORS[code]
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
            return _error("missing_api_key", challenge)
        api_key_sudo = request.env["rbm.api.key"]._authenticate(token.strip())
        if not api_key_sudo:
            return _error("invalid_api_key", challenge)
        if (httprequest.content_length or 0) > MAX_BODY:
            return _error("body_too_large")
        mimetype = httprequest.mimetype or ""
        if mimetype and mimetype != "application/json":
            return _error("unsupported_media_type")
        # cached on the request: a request replayed after a serialization
        # failure (two clients sending the same keys at once) reads it again
        data = httprequest.get_data()
        if len(data) > MAX_BODY:
            return _error("body_too_large")
        try:
            payload = ui.loads(data)
        except (ValueError, UnicodeDecodeError):
            return _error("invalid_json")
        except RecursionError:
            return _error("too_deep")
        events = payload.get("events") if isinstance(payload, dict) else None
        if not isinstance(events, list):
            return _error("invalid_payload")
        if len(events) > ui.MAX_BATCH:
            return _error("too_many_events")
        # the technical user's rights apply (it may only create usage events)
        company = api_key_sudo.company_id
        api_user = api_key_sudo._get_api_user()
        Usage = request.env["rbm.usage"].with_user(api_user).with_company(company)
        results = Usage._ingest(company, events, source="api", api_key=api_key_sudo)
        summary = dict.fromkeys(SUMMARY, 0)
        for result in results:
            summary[result["status"]] += 1
        return _json_response({**summary, "results": results})

    @http.route(
        "/rbm/api/v1/openapi.json", type="http", auth="none", methods=["GET"], save_session=False
    )
    def usage_openapi(self, **kwargs):
        return _json_response(openapi_spec())


def _text(max_length, description):
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": max_length,
        "description": description + " No NUL character, no unpaired surrogate.",
    }


def openapi_spec():
    """The OpenAPI 3 description, built from the bounds and reasons the
    server applies (``engine/usage_input.py``)."""
    error_codes = {}
    for code, (status, _message) in ERRORS.items():
        error_codes.setdefault(status, []).append(code)
    error = {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "enum": list(ERRORS)},
                    "message": {"type": "string"},
                },
            }
        },
    }
    quantity_text = (
        f"A decimal number of at most {ui.MAX_QUANTITY_TEXT} characters and "
        f"{ui.MAX_QUANTITY_TEXT} decimal places, from 0 to {ui.MAX_QUANTITY}."
    )
    event = {
        "type": "object",
        "description": "One usage event. contract_id or contract_reference is required; "
        "when both are sent, contract_id decides (contract_reference must still be valid). "
        "Other members are ignored.",
        "required": ["idempotency_key", "metric"],
        "anyOf": [{"required": ["contract_id"]}, {"required": ["contract_reference"]}],
        "properties": {
            "idempotency_key": _text(
                ui.MAX_KEY_LENGTH,
                "Unique per company: an event sent again with the same key is answered "
                "duplicate and stored once.",
            ),
            "metric": _text(ui.MAX_CODE_LENGTH, "Metric code."),
            "contract_id": {
                "type": "integer",
                "minimum": 1,
                "maximum": ui.MAX_CONTRACT_ID,
                "description": "The contract's id (not a boolean, not a decimal number).",
            },
            "contract_reference": _text(
                ui.MAX_CODE_LENGTH, "The contract's customer reference (instead of its id)."
            ),
            "quantity": {
                "description": "Default 1. A JSON number (not a boolean, not NaN or Infinity) "
                f"or a numeric string. {quantity_text}",
                "default": 1,
                "oneOf": [
                    {"type": "number", "minimum": 0, "maximum": ui.MAX_QUANTITY},
                    {
                        "type": "string",
                        "maxLength": ui.MAX_QUANTITY_TEXT,
                        "pattern": f"^{ui.QUANTITY_PATTERN}$",
                    },
                ],
            },
            "timestamp": {
                "type": "string",
                "format": "date-time",
                "nullable": True,
                "maxLength": ui.MAX_TIMESTAMP_TEXT,
                "description": "ISO 8601, with an offset or Z; naive means UTC; null, empty "
                "or missing means now. Not before "
                f"{ui.MIN_TIMESTAMP.isoformat()}Z; not after now plus the future tolerance "
                "(system parameter rbm_metering.future_tolerance_minutes, default 5 minutes).",
            },
            "properties": {
                "type": "object",
                "nullable": True,
                "description": f"At most {ui.MAX_PROPERTIES_BYTES} bytes as compact JSON "
                f"(UTF-8), nested at most {ui.MAX_PROPERTIES_DEPTH} levels (the object is "
                "level 1), finite numbers, integers of at most "
                f"{ui.MAX_JSON_INT_DIGITS} digits, keys and strings without NUL characters "
                "or unpaired surrogates.",
                "x-maxBytes": ui.MAX_PROPERTIES_BYTES,
                "x-maxDepth": ui.MAX_PROPERTIES_DEPTH,
            },
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "RBM usage ingestion API",
            "version": "1.1.0",
            "description": "Send metered usage events in batches. Each event is answered "
            "accepted, duplicate (its idempotency key was already received) or rejected "
            "with a reason; a rejected event never blocks the others. A client's mistake "
            "is never answered 500.",
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Event": event,
                "Result": {
                    "type": "object",
                    "required": ["index", "idempotency_key", "status"],
                    "properties": {
                        "index": {"type": "integer", "minimum": 0},
                        "idempotency_key": {
                            "type": "string",
                            "nullable": True,
                            "description": "The event's key; null when it has no valid key.",
                        },
                        "status": {"type": "string", "enum": ["accepted", "duplicate", "rejected"]},
                        "reason": {
                            "type": "string",
                            "enum": list(ui.REASONS),
                            "description": "Absent when accepted; duplicate when duplicate.",
                        },
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
                        "description": f"At most {MAX_BODY} bytes.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["events"],
                                    "properties": {
                                        "events": {
                                            "type": "array",
                                            "maxItems": ui.MAX_BATCH,
                                            "description": "Items that are not objects are "
                                            "rejected one by one (invalid_event).",
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
                                        "required": [*SUMMARY, "results"],
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
                            str(status): {
                                "description": ", ".join(
                                    f"{code}: {ERRORS[code][1]}" for code in codes
                                ),
                                "content": {
                                    "application/json": {
                                        "schema": {
                                            "allOf": [
                                                {"$ref": "#/components/schemas/Error"},
                                                {
                                                    "properties": {
                                                        "error": {
                                                            "properties": {"code": {"enum": codes}}
                                                        }
                                                    }
                                                },
                                            ]
                                        }
                                    }
                                },
                            }
                            for status, codes in sorted(error_codes.items())
                        },
                    },
                }
            }
        },
    }
