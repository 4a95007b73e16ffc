"""Evidence bundles, restore, retention policies and legal holds."""
