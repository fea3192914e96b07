import { join } from 'node:path';

import { recordTriggerLatency } from './harness/latencyReport';
import type { N8nInstance } from './harness/N8nInstance';
import { E2E_WORK_DIR, selectedLines } from './harness/n8nLines';
import { waitUntil } from './harness/processes';
import { startPostgres, startRedis } from './harness/queueServices';
import type { PostgresServer, RedisServer } from './harness/queueServices';
import { loadExample, proofWebhookBody } from './harness/SandboxWorld';
import type { SandboxWorld } from './harness/SandboxWorld';
import { startScenario, stopScenario } from './harness/scenario';
import type { RunningScenario } from './harness/scenario';
import { expectEveryTransitionOnce, latencySamples, submitKurierProofs, submitTachyonTransactions } from './harness/transitions';
import { streamWorkflows } from './harness/workflows';

/**
 * Queue mode, the way production n8n runs: a main process (`n8n start`, EXECUTIONS_MODE=queue) and a
 * separate `n8n worker`, sharing PostgreSQL and Redis started for the test from Debian's packages.
 * Triggers live on the main only (one socket per key at the services, none from the worker);
 * executions run on the worker; every transition still arrives once.
 */
const STEP_MS = 400;
const DELIVERY_TIMEOUT_MS = 45_000;

describe.each(selectedLines())('n8n %s, queue mode (main + worker, PostgreSQL, Redis)', (lineName) => {
	let redis: RedisServer;
	let postgres: PostgresServer;
	let scenario: RunningScenario;
	let world: SandboxWorld;
	let n8n: N8nInstance;

	beforeAll(async () => {
		const dir = join(E2E_WORK_DIR, `queue-services-${lineName}`);
		[redis, postgres] = await Promise.all([startRedis(join(dir, 'redis')), startPostgres(join(dir, 'postgres'))]);
		scenario = await startScenario({
			lineName,
			name: 'queue',
			stepMs: STEP_MS,
			queue: { redis, postgres },
			workflows: (sandbox, allfeatIds) => [
				...streamWorkflows((path) => sandbox.sink.url(path), allfeatIds),
				loadExample('kurier-failed-to-slack.json'),
				loadExample('kurier-submit-and-wait.json'),
			],
			connections: { kurier: 1, tachyon: 1 },
		});
		({ world, n8n } = scenario);
	});

	afterAll(async () => {
		await stopScenario(scenario);
		await Promise.all([redis?.process.stop(), postgres?.process.stop()]);
	});

	test('the triggers hold their sockets on the main only: one per key at the services', async () => {
		// Give a worker that wrongly ran triggers the time to connect too.
		await new Promise((resolve) => setTimeout(resolve, 2_000));
		// Two Kurier triggers (the stream workflow's and the Slack example's) on one key: one socket.
		expect(world.kurier.openConnectionCount()).toBe(1);
		expect(world.tachyon.openConnectionCount()).toBe(1);
		// The worker's log (debug level) would show the shared socket's "Connected to ws://…" lines.
		expect(n8n.main?.log()).toMatch(/Connected to ws:\/\//);
		expect(n8n.worker?.log()).not.toMatch(/Connected to ws:\/\//);
	});

	test('every transition once, in order; the executions run on the worker', async () => {
		const expectations = [...(await submitKurierProofs(world)), ...submitTachyonTransactions(world), ...scenario.allfeatStreamed];
		await expectEveryTransitionOnce(world.sink, expectations, DELIVERY_TIMEOUT_MS);
		const delivered = expectations.reduce((sum, { keys }) => sum + keys.length, 0);
		const workerRuns = (n8n.worker?.log().match(/Worker finished execution/g) ?? []).length;
		expect(workerRuns).toBeGreaterThanOrEqual(delivered);
		expect(n8n.main?.log()).not.toMatch(/Worker (started|finished) execution/);
		recordTriggerLatency(lineName, 'queue', 'Kurier + Tachyon triggers → HTTP Request (burst)', latencySamples(world.sink, expectations.filter(({ service }) => service !== 'allfeat-ats'), scenario.liveSince));
	});

	test('examples/kurier-submit-and-wait.json runs on the worker: submitted, waited for, handed on', async () => {
		await n8n.postWebhook('kurier-proof', proofWebhookBody({ publicSignal: '7' }));
		await world.sink.waitFor('the next step', () => world.nextSteps('Finalized').length > 0, DELIVERY_TIMEOUT_MS);
	});

	test('deactivating closes every socket; no key in the main\'s or the worker\'s log', async () => {
		for (const workflow of scenario.deployed) await n8n.deactivate(workflow);
		await waitUntil('every socket to close', () => world.kurier.openConnectionCount() === 0 && world.tachyon.openConnectionCount() === 0 && world.allfeat.openConnectionCount() === 0, 15_000);
		const logs = n8n.logs();
		for (const secret of world.secretValues()) expect({ secret: secret.slice(0, 6), found: logs.includes(secret) }).toEqual({ secret: secret.slice(0, 6), found: false });
	});
});
