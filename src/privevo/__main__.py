from privevo.cli import main

raise SystemExit(main())
