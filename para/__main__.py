import sys

from para.entry import main

sys.exit(main())
