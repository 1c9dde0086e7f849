"""Acceptable-use policies, their versions and consent items."""
