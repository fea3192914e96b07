import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';

import type { Browser, Page } from 'playwright-core';

import { openEditorPage, signIn, UI_TIMEOUT_MS } from './harness/browser';
import { installedPackageTemplate } from './harness/communityPackage';
import { N8nInstance } from './harness/N8nInstance';
import { E2E_WORK_DIR, n8nLine, selectedLines } from './harness/n8nLines';
import { PACKAGE_PREFIX, SandboxWorld } from './harness/SandboxWorld';
import type { WorkflowJson } from './harness/SandboxWorld';
import { webhookNode } from './harness/workflows';

/**
 * The action nodes as AI-agent tools, in real n8n on both lines:
 * - the editor (Chromium) offers "Kurier Tool", "Tachyon Tool" and "Allfeat ATS Tool" in the AI
 *   Agent's tool picker, with the light icon on the light theme and the dark one on the dark theme;
 * - each tool node runs the way an agent calls it: its parameters are `$fromAI(…)` placeholders, filled
 *   from the call's arguments. n8n's own Tool Executor node (`@n8n/n8n-nodes-langchain.toolExecutor`,
 *   "execute tools without an AI Agent") makes that call: it builds the tool from the sub-node exactly
 *   as an agent does (the `$fromAI` placeholders become the tool's argument schema), invokes it with a
 *   JSON object of arguments, and the node runs against the emulators. No language model is needed
 *   to prove the tool side; what the agent would read is what the Tool Executor outputs.
 */
const SCREENSHOTS = resolve(__dirname, 'screenshots');
const AGENT_TYPE = '@n8n/n8n-nodes-langchain.agent';
const TOOL_EXECUTOR_TYPE = '@n8n/n8n-nodes-langchain.toolExecutor';

type Node = WorkflowJson['nodes'][number];

/**
 * Webhook → Tool Executor (the tool's arguments are the request body), the tool node attached as its
 * `ai_tool` sub-node. n8n 1.x's Tool Executor takes the arguments as its query; 2.x's takes them under
 * the tool's name, as its agent hands a tool call on.
 */
function toolCallWorkflow(
	lineName: '1.x' | '2.x',
	path: string,
	tool: { name: string; type: string; credential: string; parameters: Record<string, unknown> },
): WorkflowJson {
	// The webhook answers with what the tool returned to the Tool Executor.
	const webhook = webhookNode('Webhook', path);
	webhook.parameters = { httpMethod: 'POST', path, responseMode: 'lastNode', responseData: 'allEntries', options: {} };
	const executor: Node = {
		id: randomUUID(),
		name: 'Tool Executor',
		type: TOOL_EXECUTOR_TYPE,
		typeVersion: 1,
		position: [240, 0],
		// 2.x looks the arguments up under the tool's name as the agent knows it: the node's name, spaces as underscores.
		parameters: { query: lineName === '1.x' ? '={{ JSON.stringify($json.body) }}' : `={{ JSON.stringify({ ${tool.name.replaceAll(' ', '_')}: $json.body }) }}`, toolName: '' },
	};
	const toolNode: Node = {
		id: randomUUID(),
		name: tool.name,
		type: `${PACKAGE_PREFIX}${tool.type}`,
		typeVersion: 1,
		position: [240, 200],
		parameters: tool.parameters,
		credentials: { [tool.credential]: { id: 'set-by-deploy', name: 'set-by-deploy' } },
	};
	return {
		name: `E2E: ${tool.name} (${String(tool.parameters.operation)}) via Tool Executor`,
		nodes: [webhook, executor, toolNode],
		connections: {
			Webhook: { main: [[{ node: 'Tool Executor', type: 'main', index: 0 }]] },
			[tool.name]: { ai_tool: [[{ node: 'Tool Executor', type: 'ai_tool', index: 0 }]] },
		},
		settings: { executionOrder: 'v1' },
	};
}

/** A parameter the agent fills, written as n8n's editor writes it ("Let the model define this parameter"). */
const fromAI = (key: string, description: string, type: 'string' | 'number' = 'string') => `={{ $fromAI('${key}', \`${description}\`, '${type}') }}`;

const TOOLS = {
	kurier: {
		path: 'e2e-tool-kurier',
		tool: { name: 'Kurier Tool', type: 'kurierTool', credential: 'kurierApi', parameters: { operation: 'getJobStatus', jobId: fromAI('jobId', 'The Kurier proof job ID') } },
	},
	allfeat: {
		path: 'e2e-tool-allfeat',
		tool: {
			name: 'Allfeat ATS Tool',
			type: 'allfeatAtsTool',
			credential: 'allfeatAtsApi',
			parameters: { operation: 'getTransaction', transactionId: fromAI('transactionId', 'The Allfeat ATS transaction ID') },
		},
	},
	tachyon: {
		path: 'e2e-tool-tachyon',
		tool: {
			name: 'Tachyon Tool',
			type: 'tachyonTool',
			credential: 'tachyonApi',
			parameters: {
				operation: 'relayTransaction',
				chainId: fromAI('chainId', 'Numeric chain ID', 'number'),
				to: fromAI('to', 'Destination address'),
				callData: '0x',
				value: fromAI('value', 'Amount in wei, as digits'),
				additionalFields: {},
			},
		},
	},
	tachyonSecret: {
		path: 'e2e-tool-tachyon-register',
		tool: { name: 'Tachyon Tool', type: 'tachyonTool', credential: 'tachyonApi', parameters: { operation: 'registerWebsocket' } },
	},
};

describe.each(selectedLines())('n8n %s: the action nodes as AI agent tools', (lineName) => {
	let world: SandboxWorld;
	let n8n: N8nInstance;
	let browser: Browser;
	let page: Page;
	let registerWorkflowId: string;
	const shot = async (name: string) => await page.screenshot({ path: join(SCREENSHOTS, `${lineName}-${name}.png`) });

	beforeAll(async () => {
		mkdirSync(SCREENSHOTS, { recursive: true });
		n8n = await N8nInstance.create({ line: n8nLine(lineName), dir: join(E2E_WORK_DIR, `tools-${lineName}`), packageTemplate: installedPackageTemplate(E2E_WORK_DIR) });
		// Nothing moves on its own: each test puts the service where it wants it.
		world = await SandboxWorld.start({ stepMs: 0 });
		await n8n.start();
		const credentials = await world.createCredentials(n8n);
		const deployed = await world.deploy(
			n8n,
			Object.values(TOOLS).map(({ path, tool }) => toolCallWorkflow(lineName, path, tool)),
			credentials,
		);
		registerWorkflowId = deployed[Object.keys(TOOLS).indexOf('tachyonSecret')].id;
		({ browser, page } = await openEditorPage());
		await signIn(page, n8n);
	});

	afterAll(async () => {
		await browser?.close();
		await n8n?.stop();
		await world?.close();
	});

	/** Calls a tool workflow with the arguments an agent would give; answers what the tool returned to it. */
	async function callTool(path: string, args: Record<string, unknown>): Promise<unknown[]> {
		const response = await fetch(`${n8n.webhookBaseUrl}/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(args) });
		const text = await response.text();
		if (!response.ok) throw new Error(`the tool workflow ${path} answered ${response.status}: ${text.slice(0, 500)}`);
		// The Tool Executor outputs what the tool handed the agent: the node's items, as JSON text.
		const entries = JSON.parse(text) as unknown[];
		return entries.flatMap((entry) => {
			const value = typeof entry === 'string' ? (JSON.parse(entry) as unknown) : entry;
			return Array.isArray(value) ? value : [value];
		});
	}

	/** The stored execution of a workflow's failed run, as n8n's REST API gives it (its run data serialized), once n8n has saved it. */
	async function failedExecutionOf(workflowId: string): Promise<string> {
		const filter = encodeURIComponent(JSON.stringify({ workflowId }));
		const deadline = Date.now() + UI_TIMEOUT_MS;
		for (;;) {
			const { results } = await n8n.rest<{ results: Array<{ id: string; status: string }> }>('GET', `/executions?filter=${filter}`);
			const failed = results.find((execution) => execution.status === 'error');
			if (failed) return JSON.stringify(await n8n.rest('GET', `/executions/${failed.id}`));
			if (Date.now() > deadline) throw new Error(`no failed execution of workflow ${workflowId} stored: ${JSON.stringify(results)}`);
			await new Promise((resolve) => setTimeout(resolve, 250));
		}
	}

	test('the AI Agent\'s tool picker offers Kurier Tool, Tachyon Tool and Allfeat ATS Tool, with the light and the dark icon on each theme', async () => {
		const agent: Node = { id: randomUUID(), name: 'AI Agent', type: AGENT_TYPE, typeVersion: 1.7, position: [0, 0], parameters: { promptType: 'define', text: 'Is my proof aggregated?', options: {} } };
		const workflow = await n8n.createWorkflow({ name: 'Editor: AI Agent tools', nodes: [agent], connections: {}, settings: { executionOrder: 'v1' } });
		const offered: Record<string, Record<string, string>> = {};
		for (const theme of ['light', 'dark'] as const) {
			await page.goto(`${n8n.baseUrl}/home/workflows`);
			// The editor keeps the chosen theme in local storage and marks <body data-theme> with it.
			await page.evaluate(`localStorage.setItem('N8N_THEME', '${theme}')`);
			await page.goto(`${n8n.baseUrl}/workflow/${workflow.id}`);
			await page.waitForFunction(`document.body.getAttribute('data-theme') === '${theme}'`);
			const creator = page.locator('[data-test-id="node-creator"]');
			for (const term of ['Kurier', 'Tachyon', 'Allfeat']) {
				// The "+" under the agent's Tool input opens the node creator on the tools that fit there. Right
				// after the page loads the creator can still be switching views while the search is typed, and
				// then lists all AI nodes instead: close it and ask again.
				const toolPlus = page.locator('[data-test-id="canvas-node-input-handle"][data-connection-type="ai_tool"][data-node-name="AI Agent"] [data-test-id="canvas-handle-plus"]').first();
				for (let attempt = 1; ; attempt++) {
					await toolPlus.click();
					const search = creator.locator('[data-test-id="node-creator-search-bar"]').first();
					await search.waitFor();
					await creator.getByText('Tools', { exact: true }).first().waitFor();
					await search.click();
					await search.pressSequentially(term, { delay: 30 });
					const listed = creator.locator('[data-test-id="node-creator-item-name"]').filter({ hasText: term }).first();
					await listed.waitFor();
					if (await creator.getByText('Tools', { exact: true }).first().isVisible()) break;
					if (attempt === 3) throw new Error(`searching "${term}" after the Tool "+" left the node creator at:\n${await creator.innerText()}`);
					await page.keyboard.press('Escape');
					await creator.waitFor({ state: 'hidden' });
				}
				// The icon is served and drawn, not only referenced: every package icon in the list has loaded.
				const icons = `[...document.querySelectorAll('[data-test-id="node-creator"] img[src*="n8n-nodes-onchain-events"]')]`;
				await page.waitForFunction(`${icons}.length > 0 && ${icons}.every((img) => img.complete && img.naturalWidth > 0)`);
				const names = (await creator.locator('[data-test-id="node-creator-item-name"]').allInnerTexts()).map((name) => name.trim());
				const icon = (await creator.locator(`img[src*="n8n-nodes-onchain-events"]`).first().getAttribute('src')) ?? '';
				offered[theme] = { ...offered[theme], [term]: `${names.filter((name) => name.includes(term)).join(', ')} | ${icon.split('/').pop()}` };
				await shot(`tool-picker-${term.toLowerCase()}-${theme}`);
				await page.keyboard.press('Escape');
				await creator.waitFor({ state: 'hidden' });
			}
		}
		expect(offered).toEqual({
			light: { Kurier: 'Kurier Tool | kurier.svg', Tachyon: 'Tachyon Tool | tachyon.svg', Allfeat: 'Allfeat ATS Tool | allfeatAts.svg' },
			dark: { Kurier: 'Kurier Tool | kurier.dark.svg', Tachyon: 'Tachyon Tool | tachyon.dark.svg', Allfeat: 'Allfeat ATS Tool | allfeatAts.dark.svg' },
		});
	});

	test('Kurier Tool: Get Job Status with the job ID from the agent\'s arguments returns the job\'s normalized item', async () => {
		const submitted = await fetch(`${world.kurier.restBaseUrl}/submit-proof/${world.secrets.kurierApiKey}`, {
			method: 'POST',
			headers: { 'content-type': 'application/json' },
			body: JSON.stringify({ proofType: 'groth16', vkRegistered: false, proofData: { proof: '0x01', publicSignals: ['0x01'], vk: { tool: true } } }),
		});
		const { jobId } = (await submitted.json()) as { jobId: string };
		const items = await callTool(TOOLS.kurier.path, { jobId });
		expect(items).toEqual([expect.objectContaining({ source: 'kurier', id: jobId, status: 'Queued', phase: 'pending', isFinal: false, error: null })]);
		expect(JSON.stringify(items)).not.toContain(world.secrets.kurierApiKey);
	});

	test('Allfeat ATS Tool: Get Transaction with the transaction ID from the agent\'s arguments returns the completed registration', async () => {
		const transaction = world.allfeat.createTransaction();
		world.allfeat.advanceToEnd(transaction.id);
		const items = await callTool(TOOLS.allfeat.path, { transactionId: transaction.id });
		expect(items).toEqual([expect.objectContaining({ source: 'allfeat-ats', id: transaction.id, status: 'completed', phase: 'succeeded', isFinal: true, progress: 100 })]);
	});

	test('Tachyon Tool: Relay Transaction with chain ID (a number), address and value from the agent\'s arguments relays exactly that', async () => {
		const to = '0x3dbE34f2C21b3B2980d4dc53f3c7E51e39663F49';
		const before = world.tachyon.submittedBodies.length;
		const items = await callTool(TOOLS.tachyon.path, { chainId: 84532, to, value: '1000' });
		expect(items).toEqual([expect.objectContaining({ txId: expect.any(String) })]);
		expect(world.tachyon.submittedBodies.slice(before)).toEqual([expect.objectContaining({ chainId: 84532, to, value: '1000', callData: '0x' })]);
		const { txId } = items[0] as { txId: string };
		expect(world.tachyon.getTransaction(txId)).toBeDefined();
	});

	test('Tachyon Tool: Register WebSocket is refused to an agent (its output is a secret key) and nothing is registered', async () => {
		const registrations = world.tachyon.stats.registrations;
		const response = await fetch(`${n8n.webhookBaseUrl}/${TOOLS.tachyonSecret.path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
		// n8n answers a failed execution's webhook with a bare 500; the execution it stored says why.
		expect(response.status).toBe(500);
		const stored = await failedExecutionOf(registerWorkflowId);
		expect(stored).toContain('Register WebSocket is not available to AI agents: its output is a secret key');
		expect(stored).not.toContain(world.secrets.tachyonWsKey);
		expect(world.tachyon.stats.registrations).toBe(registrations);
	});
});
