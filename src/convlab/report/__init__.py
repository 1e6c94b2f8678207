"""From results.json to tables and pictures."""
