"""Re-test a trained model: python eval.py ckpt_path=<run dir>/checkpoints/last.ckpt"""

from convlab.cli.eval import main

if __name__ == "__main__":
    main()
