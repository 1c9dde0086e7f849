"""Data protection and safeguarding records: the retention schedule and disposal, legal holds,
subject access requests, allegations against staff (KCSIE Part four), safeguarding transfer packs
and the school's privacy notice.

The school is the data controller. Modules: :mod:`.schedule` (record types and the shipped
defaults with their sources), :mod:`.models`, :mod:`.rules` (the schedule in force and changes to
it), :mod:`.retention` (the disposal run), :mod:`.holds`, :mod:`.sar`, :mod:`.allegations`,
:mod:`.transfer`, :mod:`.privacy`, :mod:`.dates` and :mod:`.cli`.
"""
