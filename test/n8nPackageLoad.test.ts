/**
 * The built package as n8n itself loads a community package: n8n-core's PackageDirectoryLoader reads
 * package.json's "n8n" section, requires every dist file, validates each node description and
 * resolves the icons and each node's codex. Builds dist/ first (what `npm run build` makes for publishing).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PackageDirectoryLoader } from 'n8n-core';

import { CONTRACT_CREDENTIAL_NAMES, CONTRACT_NODE_NAMES, packageCredentials, packageNodes, root } from './helpers/packageManifest';

beforeAll(() => {
	execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'pipe', timeout: 120_000 });
}, 150_000);

test('n8n loads every node and credential of the built package, with its icon', async () => {
	const loader = new PackageDirectoryLoader(root);
	await loader.loadAll();
	expect(loader.packageName).toBe('n8n-nodes-onchain-events');
	// What n8n found is what package.json lists (read from the sources), contract names included.
	const nodes = packageNodes().map(({ node }) => node);
	expect(Object.keys(loader.nodeTypes).sort()).toEqual(nodes.map((node) => node.description.name).sort());
	expect(Object.keys(loader.nodeTypes)).toEqual(expect.arrayContaining(CONTRACT_NODE_NAMES));
	expect(Object.keys(loader.credentialTypes).sort()).toEqual(packageCredentials().map(({ credential }) => credential.name).sort());
	expect(Object.keys(loader.credentialTypes)).toEqual(expect.arrayContaining(CONTRACT_CREDENTIAL_NAMES));
	// n8n serves each icon from `icons/<package>/<path in the package>`: the file must be there.
	// Each has one for the light and one for the dark editor theme.
	for (const description of [...loader.types.nodes, ...loader.types.credentials]) {
		const iconUrl = (description as { iconUrl?: { light?: string; dark?: string } }).iconUrl ?? {};
		expect(iconUrl.light).toMatch(/^icons\/n8n-nodes-onchain-events\/dist\/.+\.svg$/);
		expect(iconUrl.dark).toMatch(/^icons\/n8n-nodes-onchain-events\/dist\/.+\.dark\.svg$/);
		for (const url of [iconUrl.light ?? '', iconUrl.dark ?? '']) {
			expect(existsSync(join(root, url.replace('icons/n8n-nodes-onchain-events/', '')))).toBe(true);
		}
	}
	// The codex (`<Node>.node.json` beside each compiled node) gives the editor's categories and search words.
	for (const description of loader.types.nodes) {
		expect(description.codex?.categories?.length).toBeGreaterThan(0);
		expect(description.codex?.categories).toContain('Development');
		expect(description.codex?.alias?.length).toBeGreaterThan(0);
		expect(description.codex?.resources?.primaryDocumentation).toEqual([{ url: 'https://www.npmjs.com/package/n8n-nodes-onchain-events' }]);
	}
	// Each credential is offered to the nodes that declare it, and to no other.
	const expectedByCredential: Record<string, string[]> = {};
	for (const node of nodes) for (const credential of node.description.credentials ?? []) (expectedByCredential[credential.name] ??= []).push(node.description.name);
	expect(loader.nodesByCredential).toEqual(expectedByCredential);
	expect(loader.nodesByCredential.kurierApi).toEqual(['kurierTrigger', 'kurier']);
});
