"""The audit journal: canonical JSON, the envelope-v1 hash chain, the append-only journal."""
