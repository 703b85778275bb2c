#!/usr/bin/env bash
# Build a small, honest, signed flat apt repository - the shape of NVIDIA's libnvidia-container repository
# (flat, "deb [signed-by=...] URL /") - to exercise the role's toolkit-repository path for real without the internet.
# Its one package, llmops-toolkit-probe 1.0.0-1, installs a README saying what it is; it is NOT the NVIDIA toolkit.
# Usage: build-apt-repo.sh <output dir>   -> <dir>/repo/{Packages,Release,InRelease,*.deb} and <dir>/key.asc
set -euo pipefail
OUT=$1
rm -rf "$OUT" && mkdir -p "$OUT/repo" "$OUT/pkg/DEBIAN" "$OUT/pkg/usr/share/doc/llmops-toolkit-probe"
export GNUPGHOME=$OUT/gnupg
mkdir -m 0700 "$GNUPGHOME"
cat > "$OUT/pkg/DEBIAN/control" <<CTL
Package: llmops-toolkit-probe
Version: 1.0.0-1
Architecture: all
Maintainer: llmops contributors <llmops@example.invalid>
Description: probe package for the llmops gpu_node Molecule scenario
 Installed from a locally built, signed flat repository to prove the role's
 toolkit repository path (key, sources entry, pinned install). Not NVIDIA software.
CTL
echo "llmops-toolkit-probe: a test package from molecule/gpu_node_containerd; not the NVIDIA container toolkit." \
  > "$OUT/pkg/usr/share/doc/llmops-toolkit-probe/README"
dpkg-deb --root-owner-group --build "$OUT/pkg" "$OUT/repo/llmops-toolkit-probe_1.0.0-1_all.deb" >/dev/null
(cd "$OUT/repo" && dpkg-scanpackages --multiversion . /dev/null > Packages 2>/dev/null)
{
  echo "Origin: llmops-test"; echo "Label: llmops-test"; echo "Date: $(LC_ALL=C date -Ru)"
  echo "SHA256:"; printf ' %s %s Packages\n' "$(sha256sum "$OUT/repo/Packages" | cut -d' ' -f1)" "$(stat -c%s "$OUT/repo/Packages")"
} > "$OUT/repo/Release"
gpg --batch --quiet --passphrase '' --quick-generate-key "llmops test repository <llmops@example.invalid>" ed25519 sign 1d
gpg --batch --quiet --yes --clearsign -o "$OUT/repo/InRelease" "$OUT/repo/Release"
gpg --batch --quiet --armor --export > "$OUT/key.asc"
rm -rf "$OUT/pkg" "$GNUPGHOME"
