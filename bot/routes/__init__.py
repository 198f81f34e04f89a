"""HTTP routes, one small module per area."""
