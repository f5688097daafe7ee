"""GitHub: the REST client and `issues sync` (one issue per action item)."""
