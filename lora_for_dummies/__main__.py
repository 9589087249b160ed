import sys

from lora_for_dummies.cli import main

sys.exit(main())
