"""Offline verification: evidence bundles, checkpoints and Merkle proofs, without Django.

Everything here needs only the standard library, `cryptography` (Ed25519) and the
SDK's own chain code, so an auditor can check an export on a machine that has
never seen the portal.
"""
