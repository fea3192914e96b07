import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

import type { Browser, Page } from 'playwright-core';

import { openEditorPage, signIn, UI_TIMEOUT_MS } from './harness/browser';
import { installedPackageTemplate } from './harness/communityPackage';
import { N8nInstance } from './harness/N8nInstance';
import type { CreatedWorkflow } from './harness/N8nInstance';
import { E2E_WORK_DIR, n8nLine, selectedLines } from './harness/n8nLines';
import { SandboxWorld } from './harness/SandboxWorld';
import { linear, packageNode } from './harness/workflows';

/**
 * The editor a user clicks in, in Debian's Chromium driven by playwright-core (no browser download):
 * sign in, find every node of the package by searching, "Execute step" on the Kurier Trigger while a
 * job moves, and each credential's test. Screenshots of each step go to test/e2e/screenshots/.
 */
const SCREENSHOTS = resolve(__dirname, 'screenshots');

describe.each(selectedLines())('n8n %s editor in Chromium', (lineName) => {
	let world: SandboxWorld;
	let n8n: N8nInstance;
	let browser: Browser;
	let page: Page;
	let workflow: CreatedWorkflow;
	const shot = async (name: string) => await page.screenshot({ path: join(SCREENSHOTS, `${lineName}-${name}.png`) });

	beforeAll(async () => {
		mkdirSync(SCREENSHOTS, { recursive: true });
		const dir = join(E2E_WORK_DIR, `editor-${lineName}`);
		n8n = await N8nInstance.create({ line: n8nLine(lineName), dir, packageTemplate: installedPackageTemplate(E2E_WORK_DIR) });
		// Nothing moves on its own: the test moves the job while the editor listens.
		world = await SandboxWorld.start({ stepMs: 0 });
		await n8n.start();
		const credentials = await world.createCredentials(n8n);
		workflow = await n8n.createWorkflow(
			world.wire(linear('Editor: Kurier Trigger', [packageNode('Kurier Trigger', 'kurierTrigger', { event: 'allJobs', statuses: [] }, 'kurierApi', [0, 0])]), credentials),
		);
		({ browser, page } = await openEditorPage());
		await signIn(page, n8n);
	});

	afterAll(async () => {
		await browser?.close();
		await n8n?.stop();
		await world?.close();
	});

	test('the node creator finds every node of the package by searching Kurier, Allfeat and Tachyon, with its triggers and actions', async () => {
		const found: Record<string, { names: string[]; firstEntry: string }> = {};
		for (const term of ['Kurier', 'Allfeat', 'Tachyon']) {
			// A new workflow: the node creator offers triggers and actions.
			await page.goto(`${n8n.baseUrl}/workflow/new`);
			await page.locator('[data-test-id="canvas-plus-button"], [data-test-id="canvas-add-button"]').first().click();
			const search = page.locator('[data-test-id="node-creator-search-bar"]').first();
			await search.waitFor();
			// Typed as a user types: the creator filters on input events, and a fill right as it opens can be lost.
			await search.click();
			await search.pressSequentially(term, { delay: 30 });
			const names = page.locator('[data-test-id="node-creator-item-name"]');
			await names.filter({ hasText: term }).first().waitFor();
			await shot(`search-${term.toLowerCase()}`);
			const listed = await names.allInnerTexts();
			await names.first().click();
			await page.locator('[data-test-id="node-creator"]').getByText(/Triggers \(\d+\)/).first().waitFor();
			found[term] = { names: listed.map((name) => name.trim()), firstEntry: await page.locator('[data-test-id="node-creator"]').innerText() };
			await shot(`search-${term.toLowerCase()}-opened`);
		}
		// n8n lists a service once, its trigger and its actions inside.
		expect(found.Kurier.names).toEqual(['Kurier']);
		expect(found.Kurier.firstEntry).toMatch(/Triggers \(2\)[\s\S]*On all jobs[\s\S]*On one job[\s\S]*Actions \(4\)/);
		expect(found.Allfeat.names).toEqual(['Allfeat ATS', 'Allfeat ATS Webhook']);
		expect(found.Allfeat.firstEntry).toMatch(/Triggers \(1\)[\s\S]*Actions \(4\)/);
		expect(found.Tachyon.names).toEqual(['Tachyon']);
		expect(found.Tachyon.firstEntry).toMatch(/Triggers \(1\)[\s\S]*Actions \(5\)/);
	});

	test('Kurier Trigger: "Execute step" listens, a job moves at the service, the item shows in the output panel', async () => {
		await page.goto(`${n8n.baseUrl}/workflow/${workflow.id}`);
		await page.locator('[data-test-id="canvas-node"]').first().dblclick();
		// The node's trigger panel (n8n shows one for a WebSocket trigger only when the node asks).
		await page.getByText('Pull in a Kurier event to test with').first().waitFor();
		await shot('kurier-trigger-panel');
		await page.locator('[data-test-id="node-execute-button"], [data-test-id="trigger-execute-button"]').first().click();
		// Listening: the trigger has subscribed at the emulator.
		const deadline = Date.now() + UI_TIMEOUT_MS;
		while (world.kurier.openConnectionCount() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
		expect(world.kurier.openConnectionCount()).toBe(1);
		await shot('kurier-trigger-listening');
		const response = await fetch(`${world.kurier.restBaseUrl}/submit-proof/${world.secrets.kurierApiKey}`, {
			method: 'POST',
			headers: { 'content-type': 'application/json' },
			body: JSON.stringify({ proofType: 'groth16', vkRegistered: false, proofData: { proof: '0x01', publicSignals: ['0x01'], vk: { editor: true } } }),
		});
		const { jobId } = (await response.json()) as { jobId: string };
		await page.getByText(jobId).first().waitFor();
		await shot('kurier-trigger-item');
		const output = await page.locator('[data-test-id="ndv-data-container"], [data-test-id="output-panel"], [data-test-id="ndv-output-panel"]').first().innerText();
		expect(output).toContain(jobId);
		expect(output).toContain('Queued');
		expect(output).toContain('kurier');
		// The manual run took one item and stopped: its socket is closed.
		await new Promise((r) => setTimeout(r, 1_000));
		expect(world.kurier.openConnectionCount()).toBe(0);
		await page.keyboard.press('Escape');
	});

	test('each credential opens and its test passes', async () => {
		const results: Record<string, string> = {};
		for (const name of ['Kurier (sandbox)', 'Allfeat ATS (sandbox)', 'Tachyon (sandbox)']) {
			await page.goto(`${n8n.baseUrl}/home/credentials`);
			await page.getByText(name, { exact: true }).first().click();
			// Opening a saved credential runs its test; the banner says how it went.
			const banner = page.locator('[data-test-id="credentials-config-container-test-success"], [data-test-id="credentials-config-container-test-error"]').first();
			await banner.waitFor();
			results[name] = (await banner.innerText()).split('\n')[0].trim();
			await shot(`credential-${name.split(' ')[0].toLowerCase()}`);
			await page.keyboard.press('Escape');
		}
		expect(results).toEqual({
			'Kurier (sandbox)': 'Connection tested successfully',
			'Allfeat ATS (sandbox)': 'Connection tested successfully',
			'Tachyon (sandbox)': 'Connection tested successfully',
		});
	});
});
