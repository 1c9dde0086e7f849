"""Passwords, signed tokens and sign-in throttling."""
