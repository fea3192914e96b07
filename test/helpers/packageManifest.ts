/**
 * The package's services as package.json's "n8n" section lists them: the one list tests read, so a
 * new service is picked up by adding its lines there, not by editing tests.
 */
import { join } from 'node:path';
import type { ICredentialType, INodeType } from 'n8n-workflow';

export const root = join(__dirname, '..', '..');

export const manifest = require(join(root, 'package.json')) as {
	name: string;
	keywords: string[];
	homepage?: string;
	n8n: { nodes: string[]; credentials: string[] };
	peerDependencies: Record<string, string>;
};

/** The TypeScript source of a `dist/…js` entry. */
export const sourceOf = (distPath: string) => join(root, distPath.replace(/^dist\//, '').replace(/\.js$/, '.ts'));

export function loadExport<T>(file: string): T {
	const module = require(file) as Record<string, new () => T>;
	const [exported] = Object.values(module);
	return new exported();
}

export function packageNodes(): Array<{ file: string; node: INodeType }> {
	return manifest.n8n.nodes.map((distPath) => ({ file: sourceOf(distPath), node: loadExport<INodeType>(sourceOf(distPath)) }));
}

export function packageCredentials(): Array<{ file: string; credential: ICredentialType }> {
	return manifest.n8n.credentials.map((distPath) => ({ file: sourceOf(distPath), credential: loadExport<ICredentialType>(sourceOf(distPath)) }));
}

/** The public type names ../shared/CONTRACT.md fixes: each must stay as it is; a new service adds its own. */
export const CONTRACT_NODE_NAMES = ['kurierTrigger', 'kurier', 'allfeatAtsTrigger', 'allfeatAtsWebhookTrigger', 'allfeatAts', 'tachyonTrigger', 'tachyon'];
export const CONTRACT_CREDENTIAL_NAMES = ['kurierApi', 'allfeatAtsApi', 'tachyonApi'];
