"""Paper-reproduction experiment commands (registered as `ranemu experiment NAME`)."""
