"""A user's own module file of models (mymodels.py), written into a test's working directory: issue 27."""

MYMODELS = '''
from torch import nn


class Tiny(nn.Module):
    """One 3x3 conv of `hidden` channels, global average pool, a linear head."""

    def __init__(self, in_channels: int = 3, num_classes: int = 1000, hidden: int = 8) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, hidden, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(hidden, num_classes)
        )

    def forward(self, x):
        return self.net(x)


def make_tiny(width: int = 4, **kwargs) -> Tiny:
    """A factory: its **kwargs reach Tiny, so Tiny's in_channels and num_classes come from the data."""
    return Tiny(hidden=width, **kwargs)


class ThreeWay(nn.Module):
    """Always three class scores: it takes no num_classes."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Sequential(nn.Flatten(), nn.LazyLinear(3))

    def forward(self, x):
        return self.head(x)
'''
