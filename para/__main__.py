import sys

from para.cli.main import main

sys.exit(main())
