"""`python -m lic_exporter`: the same command line as `lic-exporter`."""

from lic_exporter.cli.main import main

raise SystemExit(main())
