import sys

from caffecx.cli import main

sys.exit(main())
