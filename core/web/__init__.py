"""The Starlette web front: public guide, enterprise portal, staff console, JSON API.

Build it with :func:`core.web.app.create_app` from a :class:`core.services.Services`.
"""
