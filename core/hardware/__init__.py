"""PC/SC hardware layer: APDUs, transports, readers, the card-profile driver and the virtual card.

See docs/card-profile.md for the card profile these modules implement.
"""
