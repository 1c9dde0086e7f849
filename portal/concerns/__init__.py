"""Private concerns: parents raise them here instead of on social media.

Concern text (subject, description, messages, notes) lives only in the database and the
page that shows it: never in the audit log, the application log or an email.
"""
