"""Settings: the params schema and its loading, and the workflow layout (where artifacts live)."""
