"""Pictures of what a network sees: classic filters, layer outputs, learned filters and weights."""
