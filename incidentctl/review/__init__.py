"""Post-mortem review: `incidentctl check` over a repository, and its GitHub annotations."""
