"""lic_exporter: Cisco Smart Licensing state from saved NX-OS outputs and logs, as typed
records and Prometheus metrics."""

__version__ = "0.1.0"
