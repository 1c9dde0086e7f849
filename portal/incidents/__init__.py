"""Contact incidents (pupil <-> adult of the school) and the social-media incidents log."""
