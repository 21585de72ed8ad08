"""Stage 3: records -> what an operator needs to know. Device views, days left to deadlines and
the diagnose rules; no I/O."""
