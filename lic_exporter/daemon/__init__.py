"""Stage 5: the running exporter. The state (files -> devices -> page), the watcher that feeds it
from the folders and syslog files, the HTTP server that serves its page, and the web
configuration."""
