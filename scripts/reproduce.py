"""Re-run the published presets and compare: python scripts/reproduce.py [--seeds N] [dataset=...] [overrides]

Runs experiment=lenet_tutorial, mlp_keras and cnn8_article (Hydra multiruns of train.py, seed=0..N-1) and
prints published vs measured accuracy (mean ± std and 95% interval over seeds, and a verdict), parameters and
seconds; also written as reproduction.md in the sweep directory, with the MLP-vs-CNN table and the 8-layer
CNN's per-class table and confusion matrix. Quick check: python scripts/reproduce.py dataset=digits
trainer.max_epochs=1. Offline on MNIST: python scripts/reproduce.py 'dataset.search_dirs=[<folder>]' --seeds 3
"""

import sys

from convlab.cli.reproduce import main

if __name__ == "__main__":
    sys.exit(main())
