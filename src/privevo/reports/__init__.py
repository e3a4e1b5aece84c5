"""What a run reports: privacy.json, metrics, summaries and plots."""
