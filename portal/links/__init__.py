"""Family links between adults of the school and pupils: declarations, decisions, the register."""
