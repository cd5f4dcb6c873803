"""One module per LVA node type."""
