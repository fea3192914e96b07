// `npm run scan`: the lint checks of n8n's verified-community-node scanner (@n8n/scan-community-package)
// on this repository's sources and on its `npm pack` tarball, without the npm registry.
//
// The scanner's own CLI (`npx @n8n/scan-community-package <name>`) takes a published package: it reads
// the version's npm provenance attestation from the registry, downloads the source commit that the
// attestation names from GitHub, downloads the tarball with `npm pack <name>@<version>`, and then lints
// both with `analyzePackage`. This package is not published, so the provenance step cannot run here;
// the two lint legs can, with the scanner's exported `analyzePackage` and the same file patterns its
// CLI uses (source: `SOURCE_FILE_PATTERNS`, tarball: compiled `.js` plus package.json).
//
// Prints the scanner's report and a count per rule. Exits 0 whatever the scan found (the package is
// known not to pass: see the README, "n8n verified-community-node scanner"); `--strict` exits 1 then.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import tmp from 'tmp';

// The scanner makes a temporary folder when it is loaded; have it removed at exit.
tmp.setGracefulCleanup();
const { analyzePackage, SOURCE_FILE_PATTERNS } = await import('@n8n/scan-community-package/scanner/scanner.mjs');

const strict = process.argv.includes('--strict');
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const scannerVersion = JSON.parse(
	fs.readFileSync(path.join(root, 'tools/scan/node_modules/@n8n/scan-community-package/package.json'), 'utf8'),
).version;

function run(command, args, cwd) {
	const result = spawnSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
	if (result.status !== 0) {
		throw new Error(`${command} ${args.join(' ')} failed:\n${result.stdout}\n${result.stderr}`);
	}
	return result.stdout;
}

/** Rule id → [errors, warnings], read from the stylish report (each problem line ends with its rule id). */
function countByRule(details) {
	const counts = new Map();
	for (const line of (details ?? '').split('\n')) {
		const match = /^\s+\d+:\d+\s+(error|warning)\s.*\s(\S+)$/.exec(line);
		if (!match) continue;
		const [errors, warnings] = counts.get(match[2]) ?? [0, 0];
		counts.set(match[2], match[1] === 'error' ? [errors + 1, warnings] : [errors, warnings + 1]);
	}
	return [...counts].sort((a, b) => b[1][0] + b[1][1] - (a[1][0] + a[1][1]) || a[0].localeCompare(b[0]));
}

function report(title, result, shownRoot) {
	console.log(`\n## ${title}: ${result.passed ? 'passed' : `failed (${result.message})`}`);
	if (!result.details) return;
	console.log(result.details.split(shownRoot + path.sep).join(''));
	for (const [rule, [errors, warnings]] of countByRule(result.details)) {
		console.log(`  ${String(errors).padStart(3)} error(s) ${String(warnings).padStart(3)} warning(s)  ${rule}`);
	}
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'n8n-scan-'));
try {
	console.log(`@n8n/scan-community-package ${scannerVersion}, offline (no provenance check: the package is not published)`);
	console.log('Building and packing…');
	run('npm', ['run', 'build', '--silent'], root);
	const [packed] = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', work], root));
	const packageDir = path.join(work, 'package');
	fs.mkdirSync(packageDir);
	run('tar', ['-xzf', path.join(work, packed.filename), '-C', packageDir, '--strip-components=1'], root);

	const source = await analyzePackage(root, SOURCE_FILE_PATTERNS);
	const tarball = await analyzePackage(packageDir, ['**/*.js', 'package.json']);
	report(`Sources (${SOURCE_FILE_PATTERNS.join(', ')})`, source, root);
	report(`Tarball ${packed.filename} (**/*.js, package.json)`, tarball, packageDir);

	const passed = source.passed && tarball.passed;
	console.log(`\nScan ${passed ? 'passed' : 'failed'}.`);
	if (strict && !passed) process.exitCode = 1;
} finally {
	fs.rmSync(work, { recursive: true, force: true });
}
