"""Shipping: the journal's events, read from the shipper's cursor, carried by a Transport."""
