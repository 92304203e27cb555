#!/usr/bin/env bash
# One go on a machine with an NVIDIA GPU and PyTorch: every figure BENCHMARKS.md asks for,
# measured in one run, into one folder.
#
#   scripts/gpu_report.sh [FOLDER]        (default: $OUT, else gpu-report/)
#
# Needs the release binary at target/release/wgsl-autoencoder (cargo build --release) and
# python3 with torch. Runs, from the repository root:
#   info; check (every kernel and variant against the CPU reference on this card);
#   bench --peak (the card's FMA rate and bandwidth); tune --all (every variant of both
#   models' shapes at batch 128 and 1024 and the squares timed, the fastest saved, so
#   that what follows runs them); profile --plan of both models at batch 128, on this
#   card and for 132 compute units; bench --json --train (every kernel and variant,
#   whole epochs at batch 64-1024); profile of both models at batch 128 (tables, JSON
#   and roofline pictures); the PyTorch peer on the same ops and epochs
#   (scripts/torch_peer.py); compare.
# Writes:
#   summary.txt          what ran, where and when; the adapter; check; the peaks; the
#                        tuned table (each op shape's variant, measured or not, and every
#                        variant's median time); the dispatch plans; both profiles;
#                        compare's table of ratios to PyTorch: the file a person reads
#   roofline-dense.png   each dense-step kernel under the card's two ceilings
#   roofline-conv.png    the same for the conv step
#   bench.jsonl          our rows, as bench --json prints them
#   torch.jsonl          the peer's rows
#   profile-dense.json   profile --json, dense model
#   profile-conv.json    profile --json, conv model
#   log.txt              everything the tools wrote to stderr
# Set TORCH_PEER_ARGS (e.g. --compile) to pass options to the peer.
set -euo pipefail

here="${BASH_SOURCE[0]%/*}"
[ "$here" = "${BASH_SOURCE[0]}" ] && here=.
root="$(cd "$here/.." && pwd)"
cd "$root"
out="${1:-${OUT:-gpu-report}}"
bin="$root/target/release/wgsl-autoencoder"

fail() {
    echo "gpu_report: $*" >&2
    exit 1
}

[ -x "$bin" ] || fail "no release binary at $bin; build it first: cargo build --release"
command -v python3 >/dev/null || fail "python3 not found; the PyTorch peer needs python3 with torch"
python3 -c "import torch" 2>/dev/null || fail "python3 cannot import torch; install PyTorch first"
# A local Vulkan loader setup, where the machine keeps one.
if [ -f .gl/gpu-env.sh ]; then
    # shellcheck disable=SC1091
    source .gl/gpu-env.sh
fi

mkdir -p "$out"
log="$out/log.txt"
summary="$out/summary.txt"
: >"$log"

step() {
    echo "== $*" | tee -a "$log" >&2
}

{
    echo "wgsl-autoencoder GPU report"
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "host: $(uname -srm)"
    if command -v nvidia-smi >/dev/null; then
        echo "nvidia-smi: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)"
    fi
    echo "torch: $(python3 -c 'import torch; print(torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU")' 2>>"$log")"
    echo
    echo "## wgsl-autoencoder info"
} >"$summary"

step "info"
"$bin" info >>"$summary" 2>>"$log"

step "check (every kernel and variant against the CPU reference)"
{
    echo
    echo "## check"
    # A failing kernel is a finding, not a reason to stop the report.
    "$bin" check 2>>"$log" || echo "check FAILED: see above"
} >>"$summary"

step "bench --peak (the card's FMA rate and bandwidth)"
{
    echo
    echo "## bench --peak"
    "$bin" bench --peak 2>>"$log"
} >>"$summary"

step "tune --all (every variant of each op shape timed; the fastest saved)"
{
    echo
    echo "## tune --all"
    # Untimed shapes (a card without timestamps says why) are a finding, not a stop.
    "$bin" tune --all --again --budget 300 2>>"$log" || echo "tune FAILED: see log.txt"
} >>"$summary"

for model in dense conv; do
    step "profile --plan --model $model --batch 128 (this card; 132 compute units)"
    {
        echo
        echo "## profile --plan --model $model --batch 128"
        "$bin" profile --plan --model "$model" --batch 128 2>>"$log"
        echo
        echo "## profile --plan --model $model --batch 128 --compute-units 132"
        "$bin" profile --plan --model "$model" --batch 128 --compute-units 132 2>>"$log"
    } >>"$summary"
done

step "bench --json --train (every kernel and variant; whole epochs)"
"$bin" bench --json --train >"$out/bench.jsonl" 2>>"$log"

for model in dense conv; do
    step "profile --model $model --batch 128"
    "$bin" profile --model "$model" --batch 128 --json >"$out/profile-$model.json" 2>>"$log"
    {
        echo
        echo "## profile --model $model --batch 128"
        "$bin" profile --model "$model" --batch 128 --plot "$out/roofline-$model.png" 2>>"$log"
    } >>"$summary"
done

step "scripts/torch_peer.py (the same ops and epochs in PyTorch)"
# shellcheck disable=SC2086
python3 scripts/torch_peer.py ${TORCH_PEER_ARGS:-} "$out/bench.jsonl" >"$out/torch.jsonl" 2>>"$log"

step "compare"
{
    echo
    echo "## compare bench.jsonl torch.jsonl"
    "$bin" compare "$out/bench.jsonl" "$out/torch.jsonl" 2>>"$log"
    echo
    echo "## commands"
    echo "$bin info"
    echo "$bin check"
    echo "$bin bench --peak"
    echo "$bin tune --all --again --budget 300"
    echo "$bin profile --plan --model dense|conv --batch 128 [--compute-units 132]"
    echo "$bin bench --json --train > bench.jsonl"
    echo "$bin profile --model dense|conv --batch 128 [--json | --plot roofline-MODEL.png]"
    echo "python3 scripts/torch_peer.py ${TORCH_PEER_ARGS:+$TORCH_PEER_ARGS }bench.jsonl > torch.jsonl"
    echo "$bin compare bench.jsonl torch.jsonl"
} >>"$summary"

step "done: $out/summary.txt"
