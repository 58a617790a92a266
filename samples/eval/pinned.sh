# Shared by samples/eval/fetch.sh and samples/eval/wide/fetch.sh (sourced, not run): fetches
# each pinned PDF of CORPUS into OUT, downloading its Debian package into CACHE once, and
# writes OUT/MANIFEST. The caller sets CORPUS (entries "name|package|version|path|sha256|
# licence"), OUT and CACHE, then calls `fetch_corpus "what the corpus is" "where it lands"`.

die() { echo "fetch.sh: $*" >&2; exit 1; }

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

updated=0
# Downloads package=version into its own cache folder (once) and sets DEB to the .deb's path.
DEB=
deb_for() {
  local pkg="$1" version="$2"
  local dir="$CACHE/deb/${pkg}_${version//:/%3a}"
  if [ -d "$dir" ]; then
    DEB="$(find "$dir" -maxdepth 1 -name '*.deb' | head -n1)"
    if [ -n "$DEB" ]; then return; fi
  fi
  command -v apt-get >/dev/null || die "apt-get is missing: the corpus comes from Debian packages (Debian/Ubuntu needed)"
  mkdir -p "$dir"
  echo "fetch.sh: downloading $pkg=$version" >&2
  if ! (cd "$dir" && apt-get download -q "$pkg=$version" >/dev/null 2>"$dir/apt.log"); then
    if [ "$updated" -eq 0 ] && [ "$(id -u)" -eq 0 ]; then
      echo "fetch.sh: refreshing the apt package lists (apt-get update) and retrying" >&2
      apt-get update -qq >/dev/null 2>&1 || true
      updated=1
    fi
    if ! (cd "$dir" && apt-get download -q "$pkg=$version" >/dev/null 2>"$dir/apt.log"); then
      sed 's/^/  apt: /' "$dir/apt.log" >&2
      die "the pinned version $pkg=$version is not served by this machine's apt sources (Debian 12 'bookworm' needed; run 'apt-get update' as root if the lists are stale). It is no longer the version that was checked: the PDF inside may differ, so choose a new pin by hand, check its sha256 and the QA pages, and update CORPUS in $0 (and the QA file: check_qa.py)."
    fi
  fi
  DEB="$(find "$dir" -maxdepth 1 -name '*.deb' | head -n1)"
  [ -n "$DEB" ] || die "apt-get download $pkg=$version left no .deb in $dir"
}

fetch_corpus() {
local label="$1" shown="$2"
mkdir -p "$OUT"
local present=0 fetched=0 entry name pkg version path sha licence target deb tmp got
for entry in "${CORPUS[@]}"; do
  IFS='|' read -r name pkg version path sha licence <<<"$entry"
  target="$OUT/$name"
  if [ -f "$target" ] && [ "$(sha_of "$target")" = "$sha" ]; then
    present=$((present + 1))
    continue
  fi
  deb_for "$pkg" "$version"
  deb="$DEB"
  tmp="$(mktemp "$OUT/.$name.XXXXXX")"
  if ! dpkg-deb --fsys-tarfile "$deb" | tar -xO "./$path" >"$tmp" 2>/dev/null; then
    rm -f "$tmp"
    die "$path is not in $(basename "$deb")"
  fi
  got="$(sha_of "$tmp")"
  if [ "$got" != "$sha" ]; then
    rm -f "$tmp"
    die "sha256 mismatch for $name from $pkg=$version:$path: expected $sha, got $got; refusing it"
  fi
  chmod 0644 "$tmp"
  mv "$tmp" "$target"
  fetched=$((fetched + 1))
done

{
  echo "# dossier $label, written by $0"
  echo "# file	sha256	source (Debian package==version:path)	licence"
  for entry in "${CORPUS[@]}"; do
    IFS='|' read -r name pkg version path sha licence <<<"$entry"
    printf '%s\t%s\t%s==%s:/%s\t%s\n' "$name" "$sha" "$pkg" "$version" "$path" "$licence"
  done
} >"$OUT/MANIFEST.tmp"
mv "$OUT/MANIFEST.tmp" "$OUT/MANIFEST"

echo "fetch.sh: ${#CORPUS[@]} PDFs in $shown ($present already present, $fetched fetched)"
}
