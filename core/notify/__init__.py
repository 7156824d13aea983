"""Gateways that carry notices and codes out of the system: SMS providers, an HTTPS webhook, SMTP.

I/O adapters below the services (like ``core.store``): they import no service, web or CLI module. The
contract is :mod:`core.notify.base`; :mod:`core.notify.registry` finds a gateway by the name the
deployment's config gives (built-in ones, and those plugins add through ``register_gateways``).
"""
