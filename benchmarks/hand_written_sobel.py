"""A hand-written experiment=sobel: camera photo, sobel_x target, one 3x3 conv, SGD lr 0.2 momentum 0.98, 2000 steps."""

import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from skimage import data

torch.set_num_threads(int(os.environ.get("THREADS", torch.get_num_threads())))
torch.backends.mkldnn.enabled = False  # as convlab does for this 1-channel conv
x = torch.from_numpy(data.camera() / 255.0).float()[None, None]
sobel_x = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
y = F.conv2d(x, sobel_x[None, None])
torch.manual_seed(0)
net = torch.nn.Conv2d(1, 1, 3, bias=False)
opt = torch.optim.SGD(net.parameters(), lr=0.2, momentum=0.98)
start = time.perf_counter()
for _ in range(2000):
    opt.zero_grad()
    loss = F.mse_loss(net(x), y)
    loss.backward()
    opt.step()
train = time.perf_counter() - start
with torch.no_grad():
    mse = float(F.mse_loss(net(x), y))
print(f"train_seconds {train:.3f} mse {mse:.4g}")
print(np.array2string(net.weight.detach()[0, 0].numpy(), precision=8))
