"""What each process counts for Prometheus (``GET /metrics``, core/web/ops.py).

Counters live in this process (prometheus_client's default registry): every web process counts its
own requests, SMS codes and CA signatures, and Prometheus scrapes each process's port and sums them.
What the database knows (queue lengths, overdue applications) and the daily jobs' outcomes are read
when ``/metrics`` is asked (core/services/ops.py), the same from every process.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter("eportcard_http_requests_total", "HTTP requests answered, by route template and status",
                        ["method", "route", "status"])
HTTP_LATENCY = Histogram("eportcard_http_request_duration_seconds", "Time to answer an HTTP request, by route template",
                         ["method", "route"], buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30))
SMS_CODES = Counter("eportcard_sms_codes_total", "SMS codes sent or checked, by purpose and outcome",
                    ["event", "purpose", "outcome"])
CA_SIGNATURES = Counter("eportcard_ca_signatures_total", "Signatures made with the CA key, by what was signed",
                        ["signed"])


METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    method = method if method in METHODS else "OTHER"  # a client's made-up method is not a new series
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_LATENCY.labels(method, route).observe(seconds)


def sms_outcome(event: str, purpose: str, outcome: str) -> None:
    """``event``: ``send`` or ``check``; ``purpose`` without its application id (``submit``, ``reset``)."""
    SMS_CODES.labels(event, purpose.split(":", 1)[0], outcome).inc()


def ca_signed(signed: str) -> None:
    """``signed``: ``certificate``, ``crl``, ``ocsp`` or ``data``."""
    CA_SIGNATURES.labels(signed).inc()


__all__ = ["CA_SIGNATURES", "HTTP_LATENCY", "HTTP_REQUESTS", "SMS_CODES", "ca_signed", "observe_request",
           "sms_outcome"]
