"""Per-entity repositories: each wraps one session and the queries of one part of the control plane."""
