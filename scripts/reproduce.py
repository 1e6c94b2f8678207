"""Re-run the published presets and compare: python scripts/reproduce.py [dataset=...] [overrides]

Runs experiment=lenet_tutorial, cnn8_article and mlp_keras (one Hydra multirun of train.py) and prints
published vs measured accuracy, parameters and seconds; also written as reproduction.md in the sweep
directory. Quick check: python scripts/reproduce.py dataset=digits trainer.max_epochs=1
"""

import sys

from convlab.report.reproduction import main

if __name__ == "__main__":
    sys.exit(main())
