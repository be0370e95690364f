#!/usr/bin/env bash
# What the image's final stage adds to directus/directus (no Docker engine needed): the static trm-init
# plus every folder the Dockerfile COPYs, read from the Dockerfile itself. Prints bytes on disk and a
# gzip estimate of the layers (what a registry stores and a host pulls), and, in the same run, the
# sizes of the plain inits trm-init replaces (tini-static, catatonit, dumb-init) for scale.
# Usage: bench/image-size.sh [--no-build]   (builds the release binary first unless --no-build)
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$TRM_REPO"
bin=$TRM_RELEASE_BIN
[[ ${1:-} == --no-build ]] || cargo build --release --locked --bin trm-init >&2
[[ -x $bin ]] || { echo "no release binary at $bin (run without --no-build)" >&2; exit 1; }

# The final stage: everything after the last FROM.
final_stage=$(awk '/^FROM /{buf=""} {buf=buf $0 "\n"} END{printf "%s", buf}' Dockerfile)
# COPY sources of the final stage that come from the repository (not --from another stage).
mapfile -t sources < <(printf '%s' "$final_stage" | awk '$1=="COPY" && $0 !~ /--from=/ {
  n=0; for (i=2; i<=NF; i++) if ($i !~ /^--/) a[++n]=$i; for (i=1; i<n; i++) print a[i] }')

missing=()
present=()
for s in "${sources[@]}"; do if [[ -e $s ]]; then present+=("$s"); else missing+=("$s"); fi; done
((${#missing[@]} == 0)) || echo "WARNING: COPY sources missing from this checkout (not counted): ${missing[*]}" >&2
sources=("${present[@]}")

bytes() { stat -c %s "$1"; }
gz_bytes() { gzip -9 -c "$1" | wc -c; }
tree_bytes() { ((${#@})) || { echo 0; return; }; find "$@" -type f -printf '%s\n' | awk '{s+=$1} END{print s+0}'; }
tree_gz() { ((${#@})) || { echo 0; return; }; tar -C . -cf - --sort=name --owner=0 --group=0 --mtime=@0 "$@" | gzip -9 | wc -c; }

bin_size=$(bytes "$bin")
bin_gz=$(gz_bytes "$bin")
folders_size=$(tree_bytes "${sources[@]}")
folders_gz=$(tree_gz "${sources[@]}")
total=$((bin_size + folders_size))
total_gz=$((bin_gz + folders_gz))
stripped=$(mktemp) && trap 'rm -f "$stripped"' EXIT
strip -o "$stripped" "$bin" && stripped_size=$(bytes "$stripped")

mb() { awk -v b="$1" 'BEGIN{printf "%.2f MB", b/1000000}'; }
echo "date:     $(date -u +%Y-%m-%dT%H:%MZ)"
echo "machine:  $(nproc) x $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)"
echo "rustc:    $(rustc --version)"
echo "binary:   $bin_size bytes ($(mb "$bin_size")), after strip: $stripped_size bytes, gzip -9: $bin_gz bytes"
echo "          $(file -b "$bin" | cut -d, -f1-4)"
for s in "${sources[@]}"; do
  printf '  %-16s %10s bytes  %s files\n' "$s" "$(tree_bytes "$s")" "$(find "$s" -type f | wc -l)"
done
echo "folders:  $folders_size bytes, tar+gzip -9: $folders_gz bytes"
echo "adds:     $total bytes ($(mb "$total")) on disk, about $total_gz bytes ($(mb "$total_gz")) compressed; target < 10 MB"
echo "same run, other inits (for scale):"
for other in tini-static catatonit dumb-init; do
  p=$(command -v "$other" || true)
  [[ -n $p ]] || continue
  o=$(bytes "$p")
  printf '  %-12s %9s bytes  (trm-init / %s = %s; %s)\n' "$other" "$o" "$other" \
    "$(awk -v a="$bin_size" -v b="$o" 'BEGIN{printf "%.1fx", a/b}')" "$(file -b "$p" | grep -oE 'static(-pie|ally)? linked|dynamically linked')"
done
