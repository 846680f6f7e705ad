#!/usr/bin/env bash
# Installs the API playground's files into DEST (frontend/dist/graphiql): GraphiQL 4.0.3 and
# React 18.3.1 from the npm registry (cached in .tools/graphiql), checked against pinned
# SHA-256 digests, served by SneakyScanner itself: no CDN, works without internet.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST="${1:-frontend/dist/graphiql}"
CACHE=.tools/graphiql
mkdir -p "$CACHE" "$DEST"
for pkg in graphiql@4.0.3 react@18.3.1 react-dom@18.3.1; do
  name=${pkg%@*}
  version=${pkg#*@}
  [ -f "$CACHE/$name-$version.tgz" ] || (cd "$CACHE" && npm pack --silent "$pkg" >/dev/null)
done
extract() { # tarball, path inside, file name, sha256
  tar -xzOf "$CACHE/$1" "package/$2" > "$DEST/$3.tmp"
  echo "$4  $DEST/$3.tmp" | sha256sum --check --quiet || { echo "$3: digest mismatch" >&2; exit 1; }
  mv "$DEST/$3.tmp" "$DEST/$3"
}
extract graphiql-4.0.3.tgz graphiql.min.js graphiql.min.js 5d3b0bb879d104c22b4ca6a59d1c27cbf52e4a43ff3e8e2203c4d2e9fe535d42
extract graphiql-4.0.3.tgz graphiql.min.css graphiql.min.css 187c466b65a18d20cd510acee40d16311d7f11da2877bb484449f2530acf11a7
extract react-18.3.1.tgz umd/react.production.min.js react.production.min.js d949f1c3687aedadcedac85261865f29b17cd273997e7f6b2bfc53b2f9d4c4dd
extract react-dom-18.3.1.tgz umd/react-dom.production.min.js react-dom.production.min.js 35f4f974f4b2bcd44da73963347f8952e341f83909e4498227d4e26b98f66f0d
cp frontend/graphiql/init.js "$DEST/init.js"
echo "API playground: $DEST"
