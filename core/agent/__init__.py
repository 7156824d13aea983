"""The local card agent ("client control"): a WebSocket service on 127.0.0.1 the browser talks to.

See docs/agent.md for the methods, their replies and the security model.
"""
