"""Stage 5: the running exporter. State, the folder and syslog watchers, the HTTP server and
its web configuration."""
