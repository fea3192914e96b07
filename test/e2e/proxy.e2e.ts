import { ForwardProxy } from './harness/forwardProxy';
import { selectedLines } from './harness/n8nLines';
import { waitUntil } from './harness/processes';
import { loadExample, proofWebhookBody } from './harness/SandboxWorld';
import { startScenario, stopScenario } from './harness/scenario';
import type { RunningScenario } from './harness/scenario';
import { submitTachyonTransactions, itemsOf } from './harness/transitions';
import { streamWorkflows } from './harness/workflows';

/**
 * n8n started with HTTP_PROXY / HTTPS_PROXY pointing at a local forward proxy, as a company network
 * would have it: every WebSocket and every REST call of this package's nodes goes through the proxy
 * (n8n installs its proxy agents as Node's global agents; the nodes use those). Counted at both
 * ends: what each emulator saw arrive equals what the proxy carried to it.
 */
const DELIVERY_TIMEOUT_MS = 30_000;

describe.each(selectedLines())('n8n %s behind HTTP_PROXY / HTTPS_PROXY', (lineName) => {
	let proxy: ForwardProxy;
	let scenario: RunningScenario;

	beforeAll(async () => {
		proxy = await ForwardProxy.start();
		scenario = await startScenario({
			lineName,
			name: 'proxy',
			stepMs: 300,
			env: { HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url, http_proxy: proxy.url, https_proxy: proxy.url },
			workflows: (sandbox, allfeatIds) => [...streamWorkflows((path) => sandbox.sink.url(path), allfeatIds), loadExample('kurier-submit-and-wait.json')],
			connections: { kurier: 1, tachyon: 1 },
		});
	});

	afterAll(async () => {
		await stopScenario(scenario);
		await proxy?.close();
	});

	test('every socket and every REST call of the nodes went through the proxy', async () => {
		const { world, n8n } = scenario;
		// Kurier only through the nodes (Submit Proof, Wait for Job, the trigger): no direct call from the test.
		await n8n.postWebhook('kurier-proof', proofWebhookBody({ publicSignal: '7' }));
		await world.sink.waitFor('the next step', () => world.nextSteps('Finalized').length > 0, DELIVERY_TIMEOUT_MS);
		const [tx] = submitTachyonTransactions(world, 1);
		await waitUntil('the Tachyon items', () => itemsOf(world.sink, tx).length === tx.keys.length, DELIVERY_TIMEOUT_MS);
		await waitUntil('the Allfeat items', () => scenario.allfeatStreamed.every((expected) => itemsOf(world.sink, expected).length === expected.keys.length), DELIVERY_TIMEOUT_MS);

		const kurier = proxy.traffic(world.kurier.port);
		const tachyon = proxy.traffic(world.tachyon.port);
		const allfeat = proxy.traffic(world.allfeat.port);
		// Sockets: every connection the emulators accepted came through the proxy (the trigger's, which
		// Wait for Job shares: one socket per key in the process).
		expect(kurier.upgrades).toBeGreaterThanOrEqual(1);
		expect(kurier.upgrades).toBe(world.kurier.stats.connectionsAccepted);
		expect(tachyon.upgrades).toBeGreaterThanOrEqual(1);
		expect(tachyon.upgrades).toBe(world.tachyon.stats.connectionsAccepted);
		expect(allfeat.upgrades).toBeGreaterThanOrEqual(3);
		expect(allfeat.upgrades).toBe(world.allfeat.stats.connectionsAccepted);
		// REST: Submit Proof and the status reads at Kurier, the step-history reads at Allfeat.
		expect(kurier.requests).toBeGreaterThanOrEqual(1);
		expect(kurier.requests).toBe(world.kurier.stats.restRequests);
		expect(allfeat.requests).toBeGreaterThanOrEqual(3);
		expect(allfeat.requests).toBe(world.allfeat.stats.restRequests);
		console.log(`n8n ${lineName} behind a proxy: Kurier ${JSON.stringify(kurier)}, Tachyon ${JSON.stringify(tachyon)}, Allfeat ${JSON.stringify(allfeat)}`);
	});
});
