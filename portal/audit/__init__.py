"""Append-only, hash-chained audit log: ``from portal import audit; audit.record(...)``."""
from portal.audit.log import ChainReport, chain_head, record, record_each, verify_chain

__all__ = ["ChainReport", "chain_head", "record", "record_each", "verify_chain"]
