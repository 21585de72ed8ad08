"""Stage 3: records -> what an operator needs to know. Device views and the diagnose rules;
no I/O."""
