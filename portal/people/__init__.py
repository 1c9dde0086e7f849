"""People, roles, pupils, classes and guardian links."""
