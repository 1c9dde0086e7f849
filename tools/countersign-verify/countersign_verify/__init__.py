"""countersign-verify: check a Countersign sealed record offline, with only the root certificate."""

__version__ = "0.1.0"
