"""Certificates: CA, holder profiles, issue / renew / revoke / hold, CRL and an OCSP responder."""
