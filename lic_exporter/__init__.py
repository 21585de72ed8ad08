"""lic_exporter: Cisco Smart Licensing state from saved NX-OS outputs and logs, as typed
records and Prometheus metrics."""

# The one place the version is set: the build reads it ([tool.hatch.version] in pyproject.toml),
# and so do --version, lic_exporter_build_info and the landing page (lic_exporter.model.release).
__version__ = "0.1.0"
