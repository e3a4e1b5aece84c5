"""Settings: the params schema and its loading, the workflow layout (where artifacts live), a run's model calls."""
