"""Per-minute function metrics: in-memory aggregation, batched upserts, rollups, queries."""
