import sys

from edujax.cli import main

sys.exit(main())
