"""Stage 2: clean text -> typed records. The template index and its state machine, row ->
record building, syslog lines, failure classes, and the file parser that runs them."""
