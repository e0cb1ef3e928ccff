"""Who may do what: users with a role, API tokens, and the checks at the web layer's boundaries."""
