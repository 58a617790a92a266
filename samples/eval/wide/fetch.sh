#!/usr/bin/env bash
# Fetches the wide development corpus: 17 real-world PDFs that ship inside Debian 12 packages
# (R package vignettes, TeX Live documentation, Debian and vendor manuals), for issue 22.
#
#     samples/eval/wide/fetch.sh     # idempotent; a no-op when every PDF is present and intact
#
# Same rules as samples/eval/fetch.sh: each PDF is pinned by package, exact version, path inside
# the package and the sha256 of the PDF. A PDF already in samples/eval/wide/pdfs/ with the right
# sha256 is left alone (no network). Otherwise the pinned package is fetched with
# `apt-get download` into the shared cache (DOSSIER_EVAL_CACHE, default ~/.cache/dossier-eval),
# the one PDF is unpacked with dpkg-deb, and it is installed only if its sha256 matches.
# A pinned version that apt no longer serves is an error, never a silent substitution.
#
# The PDFs are third-party documents: git-ignored, never committed. About 190 MB of packages are
# downloaded on the first run (two TeX Live documentation packages are 85 MB and 50 MB).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="$HERE/pdfs"
CACHE="${DOSSIER_EVAL_CACHE:-$HOME/.cache/dossier-eval}"

# short name | package | version | path inside the package | sha256 of the PDF | licence (from the package's copyright file)
CORPUS=(
  "metafor-meta-analysis.pdf|r-cran-metafor|3.8-1-1|usr/lib/R/site-library/metafor/doc/metafor.pdf|6d962b039ee9b4b9e14e29ca3120a43cf65267f7461ba4323dd03b790e21a559|GPL-2+"
  "hsaur-meta-analysis.pdf|r-cran-hsaur3|1.0-13-1|usr/lib/R/site-library/HSAUR3/doc/Ch_meta_analysis.pdf|58f92e87d4f82facac37dbf277cf7473feb5c6b3f7bd3ba6060018e8c6f0dd26|GPL-2"
  "hsaur-survival.pdf|r-cran-hsaur3|1.0-13-1|usr/lib/R/site-library/HSAUR3/doc/Ch_survival_analysis.pdf|a1b8411c1ebe4d3c04bb5bbd646bd7258f7fd32a545b5fdbf85f042b75925d49|GPL-2"
  "survival-competing-risks.pdf|r-cran-survival|3.5-3-1|usr/lib/R/library/survival/doc/compete.pdf|1d83a2c90440051bef67554f06c942e418645a07e56d44e7cb1c42ba7c40ba88|GPL-2"
  "epi-years-life-lost.pdf|r-cran-epi|2.47-1|usr/lib/R/site-library/Epi/doc/yll.pdf|6a7eef46ea1af5b5d7e2ab4ff399354236235f7e521e264fce46681080f83f1f|GPL-2+"
  "survey-two-phase-epi.pdf|r-cran-survey|4.1-1-1|usr/lib/R/site-library/survey/doc/epi.pdf|cabb668b67285873f3094edc237708842d24df945416d7b517f7cbfe885c2ebb|GPL-2+"
  "chfls-survey.pdf|r-cran-multcomp|1.4-22-1|usr/lib/R/site-library/multcomp/doc/chfls1.pdf|20d0e642e02632d5563e0fb3a79ba791ea43e8f027b257a3b2dd6e767672a7c7|GPL-2"
  "coin-permutation-tests.pdf|r-cran-coin|1.4-2-1+b1|usr/lib/R/site-library/coin/doc/coin.pdf|04f1a9749b6731478ae66a257225bc7d2b1961b6233fe7af9df1a108e9e27cb9|GPL-2"
  "xtable-gallery.pdf|r-cran-xtable|1:1.8-4-2|usr/lib/R/site-library/xtable/doc/xtableGallery.pdf|151023b27c2279437ed721b09d9e97920d332a099b8a138fea0a5529006caed4|GPL-2"
  "r-extensions-manual.pdf|r-doc-pdf|4.2.2.20221110-2|usr/share/R/doc/manual/R-exts.pdf|792220b273d40e8629664d5dd0d6ae4151419d14f613a949aebe85b8c2a1f85c|GPL-2+ (R); the manual permits verbatim and modified copies under its own notice"
  "lppl-licence.pdf|texlive-latex-base-doc|2022.20230122-3|usr/share/doc/texlive-doc/latex/base/lppl.pdf|5836a11253ba59b79c0b52cf010c0d280eaa6bda709f8d6824f2a3924207fef6|LPPL (TeX Live; latex/base)"
  "latex-news-36.pdf|texlive-latex-base-doc|2022.20230122-3|usr/share/doc/texlive-doc/latex/base/ltnews36.pdf|c4a83ddba97a0c90e3ab8fd7b1e35d373c3d268bdceb9247eae3419bcfac1e2a|LPPL (TeX Live; latex/base)"
  "hyperref-slides.pdf|texlive-latex-base-doc|2022.20230122-3|usr/share/doc/texlive-doc/latex/hyperref/slides.pdf|c269a2e0cc69281acc627fd989cd7f2681e2ec4e10779b2e0bcf0eac39a3f224|LPPL-1.3 (TeX Live; hyperref)"
  "beamer-conference-talk.pdf|texlive-latex-recommended-doc|2022.20230122-3|usr/share/doc/texlive-doc/latex/beamer/beamerexample-conference-talk.pdf|4b11425166212ed695a5c99506303bddd7cc1beb02b17da48565c48f51eb38d6|LPPL-1.3c or GPL-2+ (TeX Live; beamer)"
  "debian-developers-reference.pdf|developers-reference|12.18|usr/share/developers-reference/developers-reference.pdf|88e5ac4d15444fd3adb821dc863bd91b820e99a27e65728e74975ab1752652f5|GPL-2"
  "gutenprint-manual.pdf|gutenprint-doc|5.3.4.20220624T01008808d602-1|usr/share/doc/gutenprint-doc/gutenprint-users-manual.pdf|e9f4a85ecce576c1dcbb9236e710d0e1256c0f5642bb06ad91251b15410194d8|GPL-2+ (package); the manual itself GFDL-1.2+"
  "systemtap-beginners-guide.pdf|systemtap-doc|4.8-2|usr/share/doc/systemtap-doc/SystemTap_Beginners_Guide.pdf|b50d709b0ab4567665cf0eda6f8f52b37c57a8f981b9fac375cb38de2c50f224|GPL-2"
)

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
      die "the pinned version $pkg=$version is not served by this machine's apt sources (Debian 12 'bookworm' needed; run 'apt-get update' as root if the lists are stale). Choose a new pin by hand, check its sha256 and the QA pages (check_qa.py), and update CORPUS in $0."
    fi
  fi
  DEB="$(find "$dir" -maxdepth 1 -name '*.deb' | head -n1)"
  [ -n "$DEB" ] || die "apt-get download $pkg=$version left no .deb in $dir"
}

mkdir -p "$OUT"
present=0
fetched=0
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
  echo "# dossier wide development corpus, written by samples/eval/wide/fetch.sh"
  echo "# file	sha256	source (Debian package==version:path)	licence"
  for entry in "${CORPUS[@]}"; do
    IFS='|' read -r name pkg version path sha licence <<<"$entry"
    printf '%s\t%s\t%s==%s:/%s\t%s\n' "$name" "$sha" "$pkg" "$version" "$path" "$licence"
  done
} >"$OUT/MANIFEST.tmp"
mv "$OUT/MANIFEST.tmp" "$OUT/MANIFEST"

echo "fetch.sh: ${#CORPUS[@]} PDFs in samples/eval/wide/pdfs ($present already present, $fetched fetched)"
