import sys

from .cli import main

# Guarded: importing this module (a spawned process, a tool that imports every
# module) must not run the command.
if __name__ == "__main__":
    sys.exit(main())
