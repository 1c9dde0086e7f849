"""The staff dashboard: what needs attention, and charts drawn on the server."""
