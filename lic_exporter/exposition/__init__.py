"""Stage 4: views -> bytes. Prometheus metric families and the command line's formats."""
