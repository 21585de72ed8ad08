"""Stage 4: views -> bytes. The Prometheus metrics text (one family type for all) and the command
line's formats."""
