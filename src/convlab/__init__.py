"""convlab: compare small vision models honestly with Hydra configs and Lightning runs."""

import os

# OpenMP threads spin while waiting for work by default. On a shared or oversubscribed CPU (parallel
# sweep jobs, a busy laptop) that collapses multi-threaded training 3-30x; passive waiting costs little
# when the machine is quiet. It must be set before torch loads OpenMP, hence here; a user's setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
