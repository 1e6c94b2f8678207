"""One run, in reading order (train.py): check the config, build, fit, test, record results.json; and eval."""
