"""Signatures (and declines) of policy versions, and consent answers."""
