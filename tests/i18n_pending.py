"""Templates not yet translated, with how many unmarked words each still has (tests/test_i18n.py).

The number may only go down: mark the strings with _() or {% trans %}, run `make translations`, and lower it
(remove the line at 0, and add the template to the marked lists in tests/test_i18n.py). A template that is not
listed here must have no unmarked text at all."""

PENDING = {
    "portal/classroom/home.html": 78,
    "portal/classroom/session.html": 127,
    "portal/dataprotection/_source.html": 27,
    "portal/dataprotection/allegation.html": 48,
    "portal/dataprotection/allegations.html": 73,
    "portal/dataprotection/holds.html": 76,
    "portal/dataprotection/home.html": 106,
    "portal/dataprotection/leavers.html": 54,
    "portal/dataprotection/mark.html": 131,
    "portal/dataprotection/reviews.html": 84,
    "portal/dataprotection/rule.html": 31,
    "portal/dataprotection/sar.html": 129,
    "portal/dataprotection/sar_index.html": 183,
    "portal/dataprotection/sars.html": 63,
    "portal/dataprotection/schedule.html": 92,
    "portal/dataprotection/transfer.html": 41,
    "portal/dataprotection/transfer_pack_pdf.html": 85,
    "portal/dataprotection/transfers.html": 99,
    "portal/dataprotection/trust_holds.html": 72,
    "portal/incidents/_timeline.html": 19,
    "portal/incidents/contact.html": 54,
    "portal/incidents/home.html": 77,
    "portal/incidents/new_contact.html": 124,
    "portal/incidents/new_social.html": 93,
    "portal/incidents/social.html": 38,
    "portal/policies/compliance.html": 69,
    "portal/policies/compliance_policy.html": 134,
    "portal/policies/offline_home.html": 91,
    "portal/policies/offline_parent.html": 37,
    "portal/policies/offline_record.html": 49,
    "portal/policies/version.html": 67,
}
