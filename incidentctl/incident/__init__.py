"""One incident file and the team's policy for it: format, model, rules. No git."""
