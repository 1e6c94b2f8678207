"""Re-test a trained model: python eval.py ckpt_path=<run dir>/checkpoints/last.ckpt"""

from convlab.evaluate import main

if __name__ == "__main__":
    main()
