"""LMS integration: an LTI 1.3 Advantage tool (pylti1p3) and OneRoster 1.1 roster import."""
