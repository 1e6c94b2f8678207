#!/usr/bin/env bash
# The whole-command figures of docs/performance.md that scripts/bench.py does not take itself.
# Run on a quiet machine from the repository root:  bash benchmarks/situations.sh OUT_DIR [two sobel grid augment]
#  1. two LeNet runs at once on all cores, against one lone run: started together with nothing set (each command
#     samples the machine as it starts, see convlab.run.environment), the second 15 s after the first, both
#     PASSIVE, threads=1 each
#  2. experiment=sobel against the hand-written 2000-step loop (benchmarks/hand_written_sobel.py), 2 pairs
#  3. the 12-job 1-epoch Fashion-MNIST grid with the basic and the joblib launcher
#  4. augment: 1-epoch LeNet on Fashion-MNIST with dataset.augment={crop_padding:4,hflip:true} against the same run
#     without, 3 interleaved pairs (training samples/s from results.json; the target: augmented >= 0.9x plain)
set -euo pipefail
OUT=$(realpath -m "${1:?usage: bash benchmarks/situations.sh OUT_DIR}"); mkdir -p "$OUT"
PY=${PYTHON:-python}
unset OMP_WAIT_POLICY
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
one() { $PY train.py dataset=fashion_mnist model=lenet trainer.max_epochs=1 hydra.run.dir="$OUT/two/$1" "${@:2}" >/dev/null; }
rate() {
  $PY -c "import json,sys; r=json.load(open(sys.argv[1])); print(r['samples_per_second'], '(policy', r['omp_wait_policy'], \
'busy', r.get('busy_cores_at_start'), end=')')" "$OUT/two/$1/results.json"
}
SECTIONS=${*:2}; SECTIONS=${SECTIONS:-two sobel grid augment}
if [[ " $SECTIONS " == *" two "* ]]; then
one lone && echo "lone run                        $(rate lone) samples/s"
one default_a & one default_b & wait
echo "two at once, nothing set          $(rate default_a) + $(rate default_b) samples/s"
one staggered_a & sleep 15; one staggered_b & wait
echo "second 15 s after the first       $(rate staggered_a) + $(rate staggered_b) samples/s"
OMP_WAIT_POLICY=PASSIVE one passive_a & OMP_WAIT_POLICY=PASSIVE one passive_b & wait
echo "two at once, PASSIVE              $(rate passive_a) + $(rate passive_b) samples/s"
one threads1_a threads=1 & one threads1_b threads=1 & wait
echo "two at once, threads=1 each       $(rate threads1_a) + $(rate threads1_b) samples/s"
fi
if [[ " $SECTIONS " == *" sobel "* ]]; then
for i in 1 2; do
  /usr/bin/time -f "experiment=sobel whole command  %e s" $PY train.py experiment=sobel hydra.run.dir="$OUT/sobel_$i" >/dev/null
  $PY -c "import json,sys; print('  of which training', json.load(open(sys.argv[1]))['train_seconds'], 's')" "$OUT/sobel_$i/results.json"
  /usr/bin/time -f "hand-written sobel whole        %e s" $PY benchmarks/hand_written_sobel.py
done
fi
if [[ " $SECTIONS " == *" grid "* ]]; then
GRID=(-m model=mlp,lenet,cnn8 optim=sgd,rmsprop loss=ce,mse dataset=fashion_mnist trainer.max_epochs=1)
/usr/bin/time -f "12-job grid, basic launcher     %e s" $PY train.py "${GRID[@]}" hydra.sweep.dir="$OUT/grid_basic" >/dev/null
/usr/bin/time -f "12-job grid, joblib launcher    %e s" $PY train.py "${GRID[@]}" hydra/launcher=joblib hydra.sweep.dir="$OUT/grid_joblib" >/dev/null
fi
if [[ " $SECTIONS " == *" augment "* ]]; then
AUG='dataset.augment={crop_padding:4,hflip:true}'
for i in 1 2 3; do
  one "plain_$i" && one "augment_$i" "$AUG"
  echo "pair $i: plain $(rate "plain_$i") augmented $(rate "augment_$i") samples/s"
done
$PY - "$OUT/two" <<'PYTHON'
import json, statistics, sys
rate = lambda name: json.load(open(f"{sys.argv[1]}/{name}/results.json"))["samples_per_second"]
ratios = [rate(f"augment_{i}") / rate(f"plain_{i}") for i in (1, 2, 3)]
print(f"augmented / plain: median {statistics.median(ratios):.3f} (pairs: {', '.join(f'{r:.3f}' for r in ratios)})")
PYTHON
fi
