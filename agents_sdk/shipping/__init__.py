"""Shipping journal events to the portal: the shipper loop and its transports."""
