#!/usr/bin/env bash
# Fetches the development corpus: real-world PDFs that ship inside Debian packages.
#
#     samples/eval/fetch.sh          # idempotent; a no-op when every PDF is present and intact
#
# Each PDF is pinned by package, exact package version and path inside the package, and by the
# sha256 of the PDF itself. A PDF already in samples/eval/pdfs/ with the right sha256 is left
# alone (no network). Otherwise the pinned package is fetched with `apt-get download` into a
# cache (DOSSIER_EVAL_CACHE, default ~/.cache/dossier-eval), the one PDF is unpacked with
# dpkg-deb, and it is installed only if its sha256 matches. A pinned version that the configured
# apt sources no longer serve is an error, not a silent substitution: the sha256 pins the
# content, so a new pin has to be checked by hand (update CORPUS below and samples/eval/qa.jsonl).
#
# The PDFs are third-party documents: they are git-ignored and never committed.
# Needs apt-get and dpkg-deb (Debian/Ubuntu with Debian 12 "bookworm" sources); nothing else.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="$HERE/pdfs"
CACHE="${DOSSIER_EVAL_CACHE:-$HOME/.cache/dossier-eval}"

# short name | package | version | path inside the package | sha256 of the PDF | licence (as the package's copyright file states it)
CORPUS=(
  "vst3-license.pdf|juce-modules-source-data|7.0.5+ds-1|usr/share/juce/modules/juce_audio_processors/format_types/VST3_SDK/VST3_License_Agreement.pdf|7a9b5bf405379f03fdd7e95b14d670e8471f45a253f54db1efcd5457f30c7e91|GPL-3 (VST3_SDK/*, Steinberg Media Technologies GmbH)"
  "cvs-paper.pdf|cvs|2:1.12.13+real-28+deb12u1|usr/share/doc/cvs/cvs-paper.pdf|9086459bcb0017286416a9e24b606b556ecb33320b8ae94e75c3196399d2cdc1|GPL-2+ (GNU CVS)"
  "dicom-conformance.pdf|dicomscope-doc|3.6.0-25|usr/share/doc/dicomscope/dscs360.pdf|2b58db9c4b04e04184372a6a68cd97fc08373fae1501aa89d691cc85b7f2542a|OFFIS (BSD-style)"
  "rcpp-faq.pdf|r-cran-rcpp|1.0.10-1|usr/lib/R/site-library/Rcpp/doc/Rcpp-FAQ.pdf|65716698ef08a34c7a33883289d74f33b9defb45f66dc8f9e63fb42a45389e40|GPL-2"
  "octave-refcard.pdf|octave-doc|7.3.0-2|usr/share/doc/octave/refcard-a4.pdf|7de62b24c8aa8b82d37e91948cd411c0dae8678233603419de976f0bf9538706|GPL-3+"
  "tcltk-policy.pdf|tcl-doc|8.6.13|usr/share/doc/tcl-doc/tcltk-policy.pdf|a305bad17108f0f859a422b37fddf2fc474d4d35a7d684e84ef00693f97efb06|GPL (Debian packaging; Tcl/Tk licence for Tcl/Tk itself)"
  "simh-faq.pdf|simh|3.8.1-6.1|usr/share/doc/simh/simh_faq.pdf|b1f858cb765dcd4b0d97ca0de89c3415ab45b12dea76da385041d0531d85503f|MIT-style (standard Supnik licence)"
  "simh-pdp8.pdf|simh|3.8.1-6.1|usr/share/doc/simh/pdp8_doc.pdf|d0f657ce8bcd185e53011ffc00819765f9ec907c05dec89ef391553837c11a71|MIT-style (standard Supnik licence)"
  "xmlformat-manual.pdf|xmlformat-doc|1.04-3|usr/share/doc/xmlformat-doc/xmlformat.pdf|cb9bf2a1851c3e1cef7eea18d1b4ea29cee4efb3270a89432fa2fbe348dff524|BSD-3"
  "reportlab-userguide.pdf|python-reportlab-doc|3.6.12-1+deb12u1|usr/share/doc/python-reportlab-doc/reportlab-userguide.pdf|91ad5429d7b2907b8efefd7b95facfe2fb01ec31b8cefb024e47b0a7ac713420|BSD-3-clause (ReportLab licence)"
  "drc-report.pdf|libsimbody-dev|3.7+dfsg-3|usr/share/doc/simbody/examples/src/shared/DRC_OSRF_TaskSpaceReport.pdf|f58b772f9f5cc051ebc7be7f43951c79854e4d563288a6da7325d305582d2bc6|Apache-2.0"
  "cups-banner-form.pdf|cups-filters|1.28.17-3+deb12u2|usr/share/cups/data/form_english.pdf|0d719074081e36b81da6385e42a9366b9b7c93d436c9c26bb274a4e7d38f01cc|GPL-3 (data/*, Canonical Ltd)"
  "debian-history.pdf|debian-history|2.28|usr/share/doc/debian-history/docs/project-history.en.pdf|d3d263affc69ec9c994fe1d06b3cf7dddb78f84e24849d87a4aefe3a4ed15e77|GPL-2+"
)

# The fetching itself (downloads, sha256 checks, MANIFEST) is shared with wide/fetch.sh.
. "$HERE/pinned.sh"
fetch_corpus "development corpus" "samples/eval/pdfs"
