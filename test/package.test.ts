/**
 * What n8n needs to load the package: every node and credential listed in package.json's "n8n"
 * section (and nothing else), each with its icon beside it, under the contract's type names.
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ICredentialType, INodeType } from 'n8n-workflow';

const root = join(__dirname, '..');
const manifest = require(join(root, 'package.json')) as {
	name: string;
	keywords: string[];
	n8n: { nodes: string[]; credentials: string[] };
	peerDependencies: Record<string, string>;
};

const sourceOf = (distPath: string) => join(root, distPath.replace(/^dist\//, '').replace(/\.js$/, '.ts'));

function filesEndingWith(folder: string, suffix: string): string[] {
	return readdirSync(join(root, folder), { recursive: true, encoding: 'utf8' })
		.filter((file) => file.endsWith(suffix))
		.map((file) => join(root, folder, file));
}

function loadExport<T>(file: string): T {
	const module = require(file) as Record<string, new () => T>;
	const [exported] = Object.values(module);
	return new exported();
}

function iconPath(file: string, icon: unknown): string {
	expect(typeof icon).toBe('string');
	return join(dirname(file), String(icon).replace(/^file:/, ''));
}

test('package identity follows the contract', () => {
	expect(manifest.name).toBe('n8n-nodes-onchain-events');
	expect(manifest.keywords).toContain('n8n-community-node-package');
	expect(Object.keys(manifest.peerDependencies)).toEqual(['n8n-workflow']);
});

test('every node and credential source is listed in the n8n section, and every entry has a source', () => {
	const listedNodes = manifest.n8n.nodes.map(sourceOf).sort();
	const listedCredentials = manifest.n8n.credentials.map(sourceOf).sort();
	expect(listedNodes).toEqual(filesEndingWith('nodes', '.node.ts').sort());
	expect(listedCredentials).toEqual(filesEndingWith('credentials', '.credentials.ts').sort());
});

test('nodes load, use contract type names, and each has its own icon file', () => {
	const contractNodes = new Set(['kurierTrigger', 'kurier', 'allfeatAtsTrigger', 'allfeatAtsWebhookTrigger', 'allfeatAts', 'tachyonTrigger', 'tachyon']);
	const icons = new Set<string>();
	for (const file of manifest.n8n.nodes.map(sourceOf)) {
		const node = loadExport<INodeType>(file);
		expect(contractNodes).toContain(node.description.name);
		const icon = iconPath(file, node.description.icon);
		expect(existsSync(icon)).toBe(true);
		icons.add(icon);
		for (const credential of node.description.credentials ?? []) {
			expect(['kurierApi', 'allfeatAtsApi', 'tachyonApi']).toContain(credential.name);
		}
	}
	expect(icons.size).toBe(manifest.n8n.nodes.length);
});

test('credentials load, use contract type names, and have an icon', () => {
	for (const file of manifest.n8n.credentials.map(sourceOf)) {
		const credential = loadExport<ICredentialType>(file);
		expect(['kurierApi', 'allfeatAtsApi', 'tachyonApi']).toContain(credential.name);
		expect(existsSync(iconPath(file, credential.icon))).toBe(true);
	}
});
