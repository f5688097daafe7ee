"""One incident repository: the IncidentRepo facade, git, sync and the merge driver."""
