"""Every HTML page of the portal: events, streams and evidence, and the health endpoints."""
