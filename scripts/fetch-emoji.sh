#!/usr/bin/env bash
# Fetches the emoji caption data set through npm and converts it into the generic image-text
# format (images + JSONL manifests) that Forge.Model.Data reads:
#
#   data/emoji-<vendor>/images/<code>.png     64x64 RGBA PNGs from emoji-datasource-<vendor>
#   data/emoji-<vendor>/train.jsonl           {"image":"images/…png","caption":"…","emoji":"…","category":"…"}
#   data/emoji-<vendor>/eval.jsonl            the held-out emoji, same fields
#
# Usage: scripts/fetch-emoji.sh [vendor ...]   (vendors: google twitter apple facebook emojione messenger
#        facebook-2018; default: $FORGE_EMOJI_VENDOR, else google — the value of data.emoji_vendor)
#
# google, twitter, apple and facebook come from emoji-datasource 16.0.0. Three older sets of art are
# not there: EmojiOne's and Facebook Messenger's, whose last releases are emoji-datasource-emojione@4.0.4
# (1568 emoji) and emoji-datasource-messenger@4.1.0 (1382), and Facebook's flat drawings of before its
# 2019 redesign, emoji-datasource-facebook@4.1.0 (facebook-2018). Their rows are matched to the 16.0.0
# emoji by unified code and take the 16.0.0 name, category and held-out split, so an emoji has the
# same caption, and is held out or not, for every vendor. (No older twitter set: twitter's art is the
# demo's unseen-art test, and an older release of it would put that style into training.)
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
command -v npm  >/dev/null || die "npm is needed to fetch emoji-datasource-<vendor> packages; install it and run again"

# Scratch directory of the conversion under way; removed however the script ends.
work=""
trap '[ -z "$work" ] || rm -rf "$work"' EXIT

vendors=("$@")
[ ${#vendors[@]} -gt 0 ] || vendors=("${FORGE_EMOJI_VENDOR:-google}")

# Puts the npm tarball of package@version into data/.npm (once) and prints its path. npm verifies
# the tarball against the registry's integrity hash; we keep it so a rebuilt conversion needs no network.
npm_tarball() {
  local package=$1 version=$2 cache="data/.npm"
  local tarball="$cache/$package-$version.tgz"
  mkdir -p "$cache"
  if [ ! -s "$tarball" ]; then
    log "fetching $package@$version from the npm registry" >&2
    if ! (cd "$cache" && npm pack "$package@$version" --silent >npm-pack.log 2>&1); then
      tail -n 5 "$cache/npm-pack.log" >&2
      die "npm pack $package@$version failed (is the npm registry reachable?)"
    fi
    [ -s "$tarball" ] || die "npm pack did not produce $tarball"
  fi
  printf '%s' "$tarball"
}

fetch_vendor() {
  local vendor=$1
  case "$vendor" in
    google|twitter|apple|facebook|emojione|messenger|facebook-2018) ;;
    *) die "unknown emoji vendor '$vendor' (data.emoji_vendor / FORGE_EMOJI_VENDOR); expected google, twitter, apple, facebook, emojione, messenger or facebook-2018" ;;
  esac

  # art: the vendor's name in the package (its img/<art>/ folder and has_img_<art> flags).
  local art=$vendor version=$VERSION
  case "$vendor" in
    emojione) version=4.0.4 ;;
    messenger) version=4.1.0 ;;
    facebook-2018) art=facebook; version=4.1.0 ;;
  esac
  local out="data/emoji-$vendor" package="emoji-datasource-$art" stamp_format=$STAMP_FORMAT
  [ "$version" = "$VERSION" ] \
    || stamp_format="$package@$version names=emoji-datasource@$VERSION split=sha256%100<$EVAL_PERCENT format=1"
  local stamp="$out/.complete"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$stamp_format" ] \
     && [ -s "$out/train.jsonl" ] && [ -s "$out/eval.jsonl" ]; then
    log "$out is ready ($(wc -l < "$out/train.jsonl") train, $(wc -l < "$out/eval.jsonl") eval)"
    return
  fi

  local tarball; tarball=$(npm_tarball "$package" "$version")
  work=$(mktemp -d "data/.emoji-$vendor.XXXXXX")
  tar -xzf "$tarball" -C "$work" package/emoji.json "package/img/$art/64" \
    || die "$tarball lacks package/emoji.json or package/img/$art/64/"
  # The names, categories and split of emoji-datasource $VERSION: the vendor's own emoji.json, or for
  # an older release the 16.0.0 one of google's package (which the demo fetches anyway).
  local names="$work/package/emoji.json"
  if [ "$version" != "$VERSION" ]; then
    local names_tarball; names_tarball=$(npm_tarball emoji-datasource-google "$VERSION")
    mkdir -p "$work/names"
    tar -xzf "$names_tarball" -C "$work/names" package/emoji.json || die "$names_tarball lacks package/emoji.json"
    names="$work/names/package/emoji.json"
  fi

  local pngs; pngs=$(find "$work/package/img/$art/64" -name '*.png' | wc -l)
  [ "$vendor" != google ] || [ "$pngs" -eq 3786 ] \
    || die "$package@$version should hold 3786 PNGs under img/google/64/, found $pngs"

  mkdir -p "$work/out"
  mv "$work/package/img/$art/64" "$work/out/images"
  node - "$work/package/emoji.json" "$names" "$work/out" "$art" "$EVAL_PERCENT" <<'JS'
const fs = require("fs");
const path = require("path");
const crypto = require("crypto");
const [jsonPath, namesPath, outDir, art, evalPercent] = process.argv.slice(2);

const readEmoji = file => {
  const list = JSON.parse(fs.readFileSync(file, "utf8"));
  if (!Array.isArray(list) || list.length === 0) throw new Error(`${file}: expected a non-empty array`);
  return list;
};
const emoji = readEmoji(jsonPath);
// The 16.0.0 entry of each of this package's entries, by unified code (an older release may have
// listed the fully-qualified form as the non-qualified one, so either code matches).
const names = namesPath === jsonPath ? emoji : readEmoji(namesPath);
const byCode = new Map();
for (const e of names) for (const code of [e.unified, e.non_qualified]) if (code) byCode.set(code, e);

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

const hasImage = `has_img_${art}`;
const rows = [];
const missing = [];
const unmatched = [];
const named = new Set();
for (const e of [...emoji].sort((a, b) => a.sort_order - b.sort_order)) {
  if (!e.unified || !e.image) throw new Error(`${jsonPath}: entry ${JSON.stringify(e).slice(0, 80)} lacks unified/image`);
  const n = byCode.get(e.unified) ?? (e.non_qualified ? byCode.get(e.non_qualified) : undefined);
  if (!n) { unmatched.push(e.unified); continue; }
  if (!n.name) throw new Error(`${namesPath}: entry ${n.unified} lacks a name`);
  if (named.has(n.unified)) throw new Error(`${jsonPath}: two entries match ${namesPath}'s ${n.unified} (${n.name})`);
  named.add(n.unified);
  const base = n.name.toLowerCase();
  const variants = [{ v: e, emoji: n.unified, caption: base }];
  for (const [key, v] of Object.entries(e.skin_variations ?? {}))
    variants.push({ v, emoji: n.skin_variations?.[key]?.unified ?? v.unified, caption: `${base}, ${toneCaption(key)}` });
  for (const { v, emoji, caption } of variants) {
    if (!v[hasImage]) continue;
    const image = `images/${v.image}`;
    if (!fs.existsSync(path.join(outDir, image))) { missing.push(image); continue; }
    rows.push({ split: heldOut(n.unified) ? "eval" : "train", line: { image, caption, emoji, category: n.category } });
  }
}
if (unmatched.length > 0) console.log(`[emoji] ${unmatched.length} entries of ${jsonPath} are not in ${namesPath}, left out: ${unmatched.slice(0, 5).join(", ")}`);
if (missing.length > 0) throw new Error(`${missing.length} emoji rows marked ${hasImage} have no 64px image, e.g. ${missing.slice(0, 3).join(", ")}`);
for (const split of ["train", "eval"]) {
  const lines = rows.filter(r => r.split === split).map(r => JSON.stringify(r.line));
  fs.writeFileSync(path.join(outDir, `${split}.jsonl`), lines.join("\n") + "\n");
  console.log(`[emoji] ${split}: ${lines.length} images`);
}
JS

  rm -rf "$out"
  mv "$work/out" "$out"
  printf '%s' "$stamp_format" > "$stamp"
  rm -rf "$work"; work=""
  log "$out is ready ($(wc -l < "$out/train.jsonl") train, $(wc -l < "$out/eval.jsonl") eval, $pngs PNGs)"
}

for vendor in "${vendors[@]}"; do fetch_vendor "$vendor"; done
