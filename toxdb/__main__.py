import sys

from toxdb.cli import main

sys.exit(main())
