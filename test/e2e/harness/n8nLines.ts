import { existsSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';

/**
 * The two n8n release lines the package must work in, as `test/e2e/install.sh` installs them:
 * 1.123.x on this machine's Node 20, 2.41.1 on Node 24 from the npm registry. Both live outside the
 * package, in $N8N_E2E_CACHE (default ~/.cache/n8n-nodes-onchain-events-e2e).
 */
export interface N8nLine {
	/** '1.x' or '2.x': what test names and logs say. */
	name: '1.x' | '2.x';
	version: string;
	/** The Node.js binary that runs this line. */
	node: string;
	/** n8n's CLI entry point (bin/n8n of the installed package). */
	cli: string;
	/** PATH for n8n's children (task runners), with this line's Node first. */
	path: string;
}

export const E2E_CACHE = process.env.N8N_E2E_CACHE ?? join(homedir(), '.cache', 'n8n-nodes-onchain-events-e2e');
const N8N1_VERSION = process.env.N8N1_VERSION ?? '1.123.81';
const N8N2_VERSION = process.env.N8N2_VERSION ?? '2.41.1';

export function n8nLine(name: '1.x' | '2.x'): N8nLine {
	const version = name === '1.x' ? N8N1_VERSION : N8N2_VERSION;
	const nodeDir = name === '1.x' ? null : join(E2E_CACHE, 'node24', 'bin');
	const node = nodeDir ? join(nodeDir, 'node') : process.execPath;
	const cli = join(E2E_CACHE, `n8n-${version}`, 'node_modules', 'n8n', 'bin', 'n8n');
	if (!existsSync(cli) || !existsSync(node)) throw new Error(`n8n ${version} is not installed in ${E2E_CACHE}: run bash test/e2e/install.sh`);
	return { name, version, node, cli, path: [nodeDir ?? join(process.execPath, '..'), process.env.PATH ?? ''].join(':') };
}

/** Which lines this run covers: N8N_E2E_LINES=1.x,2.x (default both). */
export function selectedLines(): Array<'1.x' | '2.x'> {
	const wanted = (process.env.N8N_E2E_LINES ?? '1.x,2.x').split(',').map((line) => line.trim());
	return (['1.x', '2.x'] as const).filter((line) => wanted.includes(line));
}

/**
 * Instances, logs and the installed package live here, outside the checkout: inside it, Node's module
 * resolution would find the checkout's own node_modules (n8n-workflow) from the installed package.
 * One folder per checkout, so two checkouts' runs never clear each other's.
 */
export const E2E_WORK_DIR =
	process.env.N8N_E2E_WORK_DIR ?? join(tmpdir(), `n8n-nodes-onchain-events-e2e-${createHash('sha256').update(resolve(__dirname, '../../..')).digest('hex').slice(0, 8)}`);
