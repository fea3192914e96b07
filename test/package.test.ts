/**
 * What n8n needs to load the package: every node and credential listed in package.json's "n8n"
 * section (and nothing else), each with its icon beside it, under the contract's type names.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { INodeProperties } from 'n8n-workflow';

import { CONTRACT_CREDENTIAL_NAMES, CONTRACT_NODE_NAMES, manifest, packageCredentials, packageNodes, root, sourceOf } from './helpers/packageManifest';

const nodes = packageNodes();
const credentials = packageCredentials();

function filesEndingWith(folder: string, suffix: string): string[] {
	return readdirSync(join(root, folder), { recursive: true, encoding: 'utf8' })
		.filter((file) => file.endsWith(suffix))
		.map((file) => join(root, folder, file));
}

/** A node's or credential's icon files: one for n8n's light theme and one for its dark theme, both beside the source. */
function themedIconPaths(file: string, icon: unknown): { light: string; dark: string } {
	expect(icon).toEqual({ light: expect.stringMatching(/^file:.+\.svg$/), dark: expect.stringMatching(/^file:.+\.dark\.svg$/) });
	const { light, dark } = icon as { light: string; dark: string };
	const paths = { light: join(dirname(file), light.replace(/^file:/, '')), dark: join(dirname(file), dark.replace(/^file:/, '')) };
	expect(existsSync(paths.light)).toBe(true);
	expect(existsSync(paths.dark)).toBe(true);
	expect(readFileSync(paths.light, 'utf8')).not.toEqual(readFileSync(paths.dark, 'utf8'));
	return paths;
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

test('nodes load, keep the contract type names, and each has its own light and dark icon files', () => {
	expect(nodes.map(({ node }) => node.description.name)).toEqual(expect.arrayContaining(CONTRACT_NODE_NAMES));
	const credentialNames = credentials.map(({ credential }) => credential.name);
	const icons = new Set<string>();
	for (const { file, node } of nodes) {
		const { light, dark } = themedIconPaths(file, node.description.icon);
		icons.add(light).add(dark);
		for (const credential of node.description.credentials ?? []) {
			expect(credentialNames).toContain(credential.name);
		}
	}
	expect(icons.size).toBe(2 * manifest.n8n.nodes.length);
});

test('the action nodes are offered to AI agents as tools, the triggers are not; every node has a subtitle and main connections', () => {
	const tools: string[] = [];
	for (const { node } of nodes) {
		const { description } = node;
		if (description.usableAsTool) tools.push(description.name);
		expect(description.subtitle).toEqual(expect.any(String));
		expect(description.outputs).toEqual(['main']);
		expect(description.inputs).toEqual(description.group.includes('trigger') ? [] : ['main']);
	}
	expect(tools).toEqual(expect.arrayContaining(['allfeatAts', 'kurier', 'tachyon']));
	const triggers = nodes.filter(({ node }) => node.description.group.includes('trigger')).map(({ node }) => node.description.name);
	expect(tools.filter((name) => triggers.includes(name))).toEqual([]);
});

test('credentials load, keep the contract type names, and have light and dark icons', () => {
	expect(credentials.map(({ credential }) => credential.name)).toEqual(expect.arrayContaining(CONTRACT_CREDENTIAL_NAMES));
	for (const { file, credential } of credentials) {
		themedIconPaths(file, credential.icon);
	}
});

/** Every parameter, with the ones nested in collections (`options`) and fixed collections (`values`). */
function allProperties(properties: readonly unknown[], path = ''): Array<{ path: string; property: INodeProperties }> {
	const found: Array<{ path: string; property: INodeProperties }> = [];
	for (const entry of properties) {
		if (typeof entry !== 'object' || entry === null) continue;
		if ('type' in entry && 'displayName' in entry) {
			const property = entry as INodeProperties;
			const here = `${path}${property.name}`;
			found.push({ path: here, property });
			if (property.type === 'collection' || property.type === 'fixedCollection') {
				found.push(...allProperties(property.options ?? [], `${here}.`));
			}
		} else if ('values' in entry && Array.isArray(entry.values)) {
			// A fixed collection's group: its `values` are parameters.
			found.push(...allProperties(entry.values, `${path}${String((entry as { name?: unknown }).name)}.`));
		}
	}
	return found;
}

describe('node UX as n8n\'s own nodes do it', () => {
	const triggers = nodes.filter(({ node }) => node.description.group.includes('trigger'));

	test.each(triggers.map(({ node }) => [node.description.name, node] as const))(
		'%s says what it waits for and what activation means',
		(_name, node) => {
			expect(node.description.eventTriggerDescription).toMatch(/^Waiting for \S/);
			expect(node.description.activationMessage).toMatch(/^Your workflow will now run each time .+\.$/);
		},
	);

	test('every trigger of the package (a node without inputs) is in the trigger group', () => {
		const withoutInputs = nodes.filter(({ node }) => Array.isArray(node.description.inputs) && node.description.inputs.length === 0);
		expect(triggers.map(({ node }) => node.description.name).sort()).toEqual(withoutInputs.map(({ node }) => node.description.name).sort());
		expect(triggers.map(({ node }) => node.description.name)).toEqual(expect.arrayContaining(['allfeatAtsTrigger', 'allfeatAtsWebhookTrigger', 'kurierTrigger', 'tachyonTrigger']));
	});

	test('every parameter of every node and credential has a description (notices excepted)', () => {
		const missing: string[] = [];
		const owners = [
			...nodes.map(({ node }) => ({ owner: node.description.name, properties: node.description.properties })),
			...credentials.map(({ credential }) => ({ owner: credential.name, properties: credential.properties })),
		];
		let checked = 0;
		for (const { owner, properties } of owners) {
			for (const { path, property } of allProperties(properties)) {
				checked += 1;
				if (property.type === 'notice') {
					expect(property.displayName.trim()).not.toBe('');
					continue;
				}
				if (typeof property.description !== 'string' || property.description.trim() === '') missing.push(`${owner}.${path}`);
			}
		}
		expect(checked).toBeGreaterThan(40);
		expect(missing).toEqual([]);
	});

	test('json-typed parameters only where the value must be JSON', () => {
		const jsonTyped = nodes.flatMap(({ node }) =>
			allProperties(node.description.properties)
				.filter(({ property }) => property.type === 'json')
				.map(({ path }) => `${node.description.name}.${path}`),
		);
		// Proof Options must be a JSON object; proof, VK and public signals may be hex or base64 text.
		expect(jsonTyped).toEqual(['kurier.proofOptions']);
	});

	test('Kurier Trigger follows all jobs by default, listed first', () => {
		const trigger = nodes.find(({ node }) => node.description.name === 'kurierTrigger')!.node;
		const event = trigger.description.properties.find((property) => property.name === 'event')!;
		expect(event.default).toBe('allJobs');
		expect((event.options as Array<{ value: string }>).map((option) => option.value)).toEqual(['allJobs', 'job']);
	});

	test.each(nodes.map(({ file, node }) => [node.description.name, file] as const))(
		'%s: has a codex file with categories, search aliases and documentation',
		(name, file) => {
			const codexFile = file.replace(/\.ts$/, '.json');
			expect(existsSync(codexFile)).toBe(true);
			const codex = JSON.parse(readFileSync(codexFile, 'utf8')) as {
				node: string;
				nodeVersion: string;
				codexVersion: string;
				categories: string[];
				alias: string[];
				resources: { primaryDocumentation: Array<{ url: string }>; credentialDocumentation?: Array<{ url: string }> };
			};
			expect(codex.node).toBe(`n8n-nodes-onchain-events.${name}`);
			expect(codex.nodeVersion).toBe('1.0');
			expect(codex.codexVersion).toBe('1.0');
			expect(codex.categories.length).toBeGreaterThan(0);
			// Only categories n8n's node panel already has.
			for (const category of codex.categories) {
				expect(['Analytics', 'Communication', 'Data & Storage', 'Development', 'Finance & Accounting', 'Marketing', 'Miscellaneous', 'Productivity', 'Sales', 'Utility']).toContain(category);
			}
			expect(codex.alias.length).toBeGreaterThan(0);
			for (const word of codex.alias) expect(word.trim()).not.toBe('');
			expect(codex.resources.primaryDocumentation).toEqual([{ url: 'https://www.npmjs.com/package/n8n-nodes-onchain-events' }]);
			expect(codex.resources.credentialDocumentation?.[0]?.url).toMatch(/^https:\/\//);
		},
	);
});

test('the connection types come from the n8n-workflow n8n loads, and fall back to the literal where it has none (n8n releases before 1.8x)', () => {
	jest.isolateModules(() => {
		const { NodeConnectionTypes } = require('../nodes/shared/connectionTypes') as typeof import('../nodes/shared/connectionTypes');
		expect(NodeConnectionTypes).toBe((require('n8n-workflow') as typeof import('n8n-workflow')).NodeConnectionTypes);
	});
	jest.isolateModules(() => {
		jest.doMock('n8n-workflow', () => ({ NodeOperationError: Error }));
		const { NodeConnectionTypes } = require('../nodes/shared/connectionTypes') as typeof import('../nodes/shared/connectionTypes');
		expect(NodeConnectionTypes).toEqual({ Main: 'main' });
		jest.dontMock('n8n-workflow');
	});
});

test('every node\'s credential names a credential test the node has (`testedBy` is a literal for n8n\'s scanner)', () => {
	for (const { node } of nodes) {
		for (const credential of node.description.credentials ?? []) {
			expect(Object.keys(node.methods?.credentialTest ?? {})).toContain(credential.testedBy);
		}
	}
});
