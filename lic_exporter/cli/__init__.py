"""The command line on top of every stage: `lic-exporter parse|diagnose|serve|collect`."""
