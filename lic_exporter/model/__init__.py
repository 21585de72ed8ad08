"""Stage 0, the foundation: typed records and the public vocabulary. Imported by every stage,
importing none of them."""
