import sys

from devstack.host.cli import main

sys.exit(main())
