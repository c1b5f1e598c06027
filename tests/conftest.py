"""Suite-wide settings.

torch runs single-threaded in tests: several tests start worker processes (process pools, Dask)
beside the test process, and OpenMP threads spinning on an oversubscribed 2-core machine make
torch many times slower, not faster.
"""

import torch

torch.set_num_threads(1)
