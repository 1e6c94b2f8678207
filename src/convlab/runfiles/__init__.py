"""The files a run writes and their readers: results.json, history.csv, predictions.npz (formats, types)."""
