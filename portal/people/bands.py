"""Age bands derived from year groups (England's key stages)."""
from __future__ import annotations

EYFS_KS1 = "eyfs_ks1"
KS2 = "ks2"
KS3_4 = "ks3_4"
KS5 = "ks5"

BAND_LABELS = {
    EYFS_KS1: "EYFS and Key Stage 1 (Reception to Year 2)",
    KS2: "Key Stage 2 (Years 3 to 6)",
    KS3_4: "Key Stages 3 and 4 (Years 7 to 11)",
    KS5: "Key Stage 5 (Years 12 and 13)",
}


def age_band_for_year(year_group: int) -> str:
    """Map a year group (-1 Nursery, 0 Reception, 1..13) to its age band.

    :raises ValueError: for a year group outside Nursery..Year 13.
    """
    if -1 <= year_group <= 2:
        return EYFS_KS1
    if 3 <= year_group <= 6:
        return KS2
    if 7 <= year_group <= 11:
        return KS3_4
    if 12 <= year_group <= 13:
        return KS5
    raise ValueError(f"year group {year_group} is outside Nursery to Year 13")


def year_label(year_group: int) -> str:
    if year_group == -1:
        return "Nursery"
    if year_group == 0:
        return "Reception"
    return f"Year {year_group}"
