"""Alerts open incidents: five payload formats, de-duplication and grouping, the receiver."""
