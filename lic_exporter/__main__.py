from lic_exporter.cli.main import main

raise SystemExit(main())
