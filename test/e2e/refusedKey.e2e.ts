import { selectedLines } from './harness/n8nLines';
import { waitUntil } from './harness/processes';
import { startScenario, stopScenario } from './harness/scenario';
import type { RunningScenario } from './harness/scenario';
import { linear, packageNode, postItemNode } from './harness/workflows';

/**
 * A key revoked while n8n was down: at start-up the trigger's activation fails with the refusal
 * (thrown from trigger(), not a successful activation followed by emitError), so n8n's own growing
 * retry applies (1.x: 1, 2, 4 … s; 2.x: five tries, then it gives up). Counted at the service over
 * a minute: a handful of attempts, not a reconnect loop; and the key never shows in n8n's log.
 */
const WATCH_MS = 60_000;

describe.each(selectedLines())('n8n %s: a Kurier key refused at start-up', (lineName) => {
	let scenario: RunningScenario;

	beforeAll(async () => {
		scenario = await startScenario({
			lineName,
			name: 'refused-key',
			stepMs: 0,
			workflows: () => [],
			connections: { kurier: 0, tachyon: 0 },
		});
	});

	afterAll(async () => await stopScenario(scenario));

	test('activation attempts follow n8n\'s growing backoff, not a loop', async () => {
		const { world, n8n } = scenario;
		const credential = await n8n.createCredential('Kurier (spare key)', 'kurierApi', { environment: 'custom', baseUrl: world.kurier.restBaseUrl, apiKey: world.secrets.kurierSpareKey });
		const workflow = await n8n.createWorkflow(
			world.wire(
				linear('E2E: Kurier Trigger on a key about to be revoked', [
					packageNode('Kurier Trigger', 'kurierTrigger', { event: 'allJobs', statuses: [] }, 'kurierApi'),
					postItemNode('To sink', world.sink.url('/stream/spare'), [260, 0]),
				]),
				{ kurierApi: { id: credential, name: 'Kurier (spare key)' } },
			),
		);
		await n8n.activate(workflow);
		await waitUntil('the trigger to connect', () => world.kurier.openConnectionCount(world.secrets.kurierSpareKey) === 1, 30_000);
		await n8n.stop();
		world.kurier.revokeKey(world.secrets.kurierSpareKey);
		const refusedBefore = world.kurier.stats.connectionsRefused;
		const startedAt = Date.now();
		await n8n.start();
		await new Promise((resolve) => setTimeout(resolve, Math.max(0, WATCH_MS - (Date.now() - startedAt))));
		const attempts = world.kurier.stats.connectionsRefused - refusedBefore;
		console.log(`n8n ${lineName}: ${attempts} refused connection attempts in ${Math.round((Date.now() - startedAt) / 1000)} s after start-up with a revoked key`);
		// At least the start-up attempt and one of n8n's retries; at most what a doubling backoff allows in a minute.
		expect(attempts).toBeGreaterThanOrEqual(2);
		expect(attempts).toBeLessThanOrEqual(8);
		expect(world.kurier.openConnectionCount(world.secrets.kurierSpareKey)).toBe(0);
		expect(n8n.logs()).not.toContain(world.secrets.kurierSpareKey);
		expect(n8n.logs()).toMatch(/refused|Unauthorized|401/i);
	});
});
