import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * This package installed the way n8n's community-package installer does it, not as a symlink to the
 * checkout (which would load n8n-workflow from the checkout's node_modules instead of n8n's own):
 * `npm pack` the built package, unpack it into `<n8n user folder>/.n8n/nodes/node_modules/<name>`,
 * drop its dev and peer dependencies from package.json, `npm install --ignore-scripts` in it.
 * Packed and installed once per run into a template folder, then copied into each n8n user folder.
 */
export const PACKAGE_NAME = 'n8n-nodes-onchain-events';
const REPO = resolve(__dirname, '../../..');

export function installedPackageTemplate(workDir: string): string {
	const template = join(workDir, 'package-template');
	const target = join(template, PACKAGE_NAME);
	if (existsSync(join(target, 'node_modules', 'ws'))) return target;
	if (!existsSync(join(REPO, 'dist', 'nodes'))) throw new Error('e2e: build the package first (npm run build)');
	rmSync(template, { recursive: true, force: true });
	mkdirSync(template, { recursive: true });
	execFileSync('npm', ['pack', '--silent', '--pack-destination', template], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
	const tarball = readdirSync(template).find((name) => name.endsWith('.tgz'));
	if (!tarball) throw new Error('e2e: npm pack produced no tarball');
	execFileSync('tar', ['xzf', tarball], { cwd: template });
	execFileSync('mv', ['package', PACKAGE_NAME], { cwd: template });
	const manifestPath = join(target, 'package.json');
	const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Record<string, unknown>;
	delete manifest.devDependencies;
	delete manifest.peerDependencies;
	writeFileSync(manifestPath, JSON.stringify(manifest, null, 2));
	execFileSync('npm', ['install', '--ignore-scripts', '--omit=dev', '--no-audit', '--no-fund', '--no-package-lock', '--loglevel=error'], {
		cwd: target,
		stdio: ['ignore', 'pipe', 'inherit'],
	});
	return target;
}

/** Copies the installed package into an n8n user folder, where n8n looks for community packages. */
export function installInto(n8nUserFolder: string, template: string): string {
	const nodesDir = join(n8nUserFolder, '.n8n', 'nodes');
	const target = join(nodesDir, 'node_modules', PACKAGE_NAME);
	mkdirSync(join(nodesDir, 'node_modules'), { recursive: true });
	cpSync(template, target, { recursive: true });
	// n8n's installer keeps the folder's own package.json listing what it installed.
	const version = (JSON.parse(readFileSync(join(template, 'package.json'), 'utf8')) as { version: string }).version;
	writeFileSync(join(nodesDir, 'package.json'), JSON.stringify({ name: 'installed-nodes', private: true, dependencies: { [PACKAGE_NAME]: version } }, null, 2));
	return target;
}
