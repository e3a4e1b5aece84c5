from privevo.cli.commands import main

raise SystemExit(main())
