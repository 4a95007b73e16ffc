"""Users, roles (as Django groups) and API tokens."""
