"""Templates not yet translated, with how many unmarked words each still has (tests/test_i18n.py).

The number may only go down: mark the strings with _() or {% trans %}, run `make translations`, and lower it
(remove the line at 0, and add the template to the marked lists in tests/test_i18n.py). A template that is not
listed here must have no unmarked text at all."""

PENDING = {
}
