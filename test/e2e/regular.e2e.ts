import { recordLatency, recordTriggerLatency } from './harness/latencyReport';
import type { N8nInstance } from './harness/N8nInstance';
import { selectedLines } from './harness/n8nLines';
import { waitUntil } from './harness/processes';
import { allfeatWebhookUrl, exampleFiles, isErrorWorkflow, loadExample, proofWebhookBody } from './harness/SandboxWorld';
import type { SandboxWorld } from './harness/SandboxWorld';
import { startScenario, stopScenario } from './harness/scenario';
import type { RunningScenario } from './harness/scenario';
import {
	expectEveryTransitionOnce,
	latencySamples,
	submitKurierProofs,
	submitTachyonTransactions,
} from './harness/transitions';
import type { ExpectedTransitions } from './harness/transitions';
import { actionWorkflows, streamWorkflows } from './harness/workflows';

/**
 * The package in the n8n that users run: n8n's own CLI (`n8n start`), the package installed as a
 * community package, credentials and workflows created through n8n's REST API, every example of
 * examples/ active at once with the e2e stream workflows, against the three emulators. What the
 * workflows do outside is seen at the sink (Slack webhook, next step, SMTP).
 */
const STEP_MS = 400;
const DELIVERY_TIMEOUT_MS = 30_000;

describe.each(selectedLines())('n8n %s, regular mode', (lineName) => {
	let scenario: RunningScenario;
	let world: SandboxWorld;
	let n8n: N8nInstance;

	beforeAll(async () => {
		scenario = await startScenario({
			lineName,
			name: 'regular',
			stepMs: STEP_MS,
			workflows: (sandbox, allfeatIds) => [...exampleFiles().map(loadExample), ...streamWorkflows((path) => sandbox.sink.url(path), allfeatIds), ...actionWorkflows((path) => sandbox.sink.url(path))],
			// Both Kurier triggers (the Slack example and the stream), both Tachyon triggers.
			connections: { kurier: 1, tachyon: 1 },
		});
		({ world, n8n } = scenario);
	});

	afterAll(async () => await stopScenario(scenario));

	test('every example workflow and every e2e workflow is created and active (the error workflow: published on 2.x, run as saved on 1.x)', async () => {
		expect(scenario.deployed.map(({ name }) => name)).toEqual(expect.arrayContaining(exampleFiles().map((file) => loadExample(file).name)));
		expect(scenario.deployed).toHaveLength(exampleFiles().length + 5);
		const errorWorkflows = exampleFiles().map(loadExample).filter(isErrorWorkflow).map(({ name }) => name);
		expect(errorWorkflows).toEqual([loadExample('crashed-execution-to-slack.json').name]);
		for (const workflow of scenario.deployed) expect({ name: workflow.name, active: await n8n.isActive(workflow) }).toEqual({ name: workflow.name, active: lineName === '2.x' || !errorWorkflows.includes(workflow.name) });
	});

	test('stream triggers: every transition of every job, registration and transaction once, in order, with the contract fields', async () => {
		const expectations = [...(await submitKurierProofs(world)), ...submitTachyonTransactions(world), ...scenario.allfeatStreamed];
		await expectEveryTransitionOnce(world.sink, expectations, DELIVERY_TIMEOUT_MS);
		const live = expectations.filter(({ service }) => service !== 'allfeat-ats');
		recordTriggerLatency(lineName, 'regular', 'Kurier + Tachyon triggers → HTTP Request (burst)', latencySamples(world.sink, live, scenario.liveSince));
		recordTriggerLatency(lineName, 'regular', 'Allfeat ATS Trigger → HTTP Request', latencySamples(world.sink, scenario.allfeatStreamed, scenario.liveSince));

		// examples/kurier-failed-to-slack.json: one Slack message, for the failed job only.
		const failedJob = expectations.find(({ label }) => label === 'invalid proof')!;
		await world.sink.waitFor('the Slack message of the failed job', () => world.sink.requestsTo('/slack').some(isAbout(failedJob.id)), DELIVERY_TIMEOUT_MS);
		const kurierJobs = expectations.filter(({ service }) => service === 'kurier');
		expect(kurierJobs.map(({ id }) => world.sink.requestsTo('/slack').filter(isAbout(id)).length)).toEqual(kurierJobs.map(({ id }) => (id === failedJob.id ? 1 : 0)));
		const slackText = (world.sink.requestsTo('/slack').find(isAbout(failedJob.id))!.body as { text: string }).text;
		expect(slackText).toContain(`Kurier proof job ${failedJob.id} (groth16) failed:`);

		// examples/tachyon-failed-alert.json: FAILED and NEEDS_TO_BE_RETRIED only, once each.
		const retried = expectations.find(({ label }) => label === 'retried once, executes')!;
		const failedTx = expectations.find(({ label }) => label === 'fails')!;
		const executed = expectations.find(({ label }) => label === 'executes')!;
		await world.sink.waitFor('the Tachyon alerts', () => world.sink.requestsTo('/slack').some(isAbout(failedTx.id)) && world.sink.requestsTo('/slack').some(isAbout(retried.id)), DELIVERY_TIMEOUT_MS);
		const alerts = (id: string) => world.sink.requestsTo('/slack').filter(isAbout(id)).map((request) => (request.body as { text: string }).text);
		expect(alerts(retried.id)).toEqual([expect.stringContaining(': NEEDS_TO_BE_RETRIED')]);
		expect(alerts(failedTx.id)).toEqual([expect.stringMatching(/: FAILED \(execution reverted\)$/)]);
		expect(alerts(executed.id)).toEqual([]);
	});

	test('examples/kurier-submit-and-wait.json: a proof posted to the webhook is submitted, waited for and handed on', async () => {
		await n8n.postWebhook('kurier-proof', proofWebhookBody());
		await n8n.postWebhook('kurier-proof', proofWebhookBody({ rejected: true }));
		await world.sink.waitFor('the next step of the valid proof', () => world.nextSteps('Finalized').length > 0, DELIVERY_TIMEOUT_MS);
		await world.sink.waitFor('the Slack message of the rejected proof', () => world.sink.requestsTo('/slack').some((request) => /ended Failed/.test((request.body as { text?: string }).text ?? '')), DELIVERY_TIMEOUT_MS);
		const [next] = world.nextSteps('Finalized');
		expect(next).toEqual({ jobId: expect.any(String), status: 'Finalized', txHash: expect.stringMatching(/^0x[0-9a-f]+$/), explorerUrl: expect.stringContaining('subscan') });
		expect(world.kurier.getJob(next.jobId as string)?.status).toBe('Finalized');
	});

	test('examples/allfeat-registration-email.json: Wait for Transaction, then the right email for completed and failed', async () => {
		const completed = world.allfeat.createTransaction();
		const failed = world.allfeat.createTransaction({ failAt: 'confirming' });
		await n8n.postWebhook('allfeat-registration', { transaction_id: completed.id });
		await n8n.postWebhook('allfeat-registration', { transaction_id: failed.id });
		await world.sink.waitFor('both emails', () => world.sink.mails.filter((mail) => mail.raw.includes(completed.id) || mail.raw.includes(failed.id)).length >= 2, DELIVERY_TIMEOUT_MS);
		const registered = world.sink.mails.find((mail) => mail.raw.includes(completed.id))!;
		const atsId = String((world.allfeat.getTransaction(completed.id)?.result as { ats_id: number }).ats_id);
		expect(registered.subject).toBe(`Work registered: ATS ${atsId}`);
		expect(registered.to).toEqual(['ops@example.com']);
		const failure = world.sink.mails.find((mail) => mail.raw.includes(failed.id))!;
		expect(failure.subject).toBe(`Work registration failed: ${failed.id}`);
		expect(failure.text).toContain(`Transaction ${failed.id} failed: Insufficient balance`);
		expect(failure.text).toContain('Steps: validating → preparing_transaction → signing → submitting → failed');
	});

	test('Allfeat ATS Get Transaction in a workflow gives the normalized item', async () => {
		const transaction = world.allfeat.createTransaction();
		await n8n.postWebhook('e2e-allfeat-get', { transaction_id: transaction.id });
		await world.sink.waitFor('the Get Transaction item', () => world.sink.requestsTo('/allfeat-get').length > 0, DELIVERY_TIMEOUT_MS);
		const item = world.sink.requestsTo('/allfeat-get')[0].body as Record<string, unknown>;
		expect(item).toMatchObject({ source: 'allfeat-ats', id: transaction.id, phase: expect.any(String), isFinal: expect.any(Boolean) });
		expect((item.details as { steps: unknown[] }).steps.length).toBeGreaterThan(0);
	});

	test('examples/tachyon-relay-and-get.json: a payout posted to the webhook is relayed and read back', async () => {
		await n8n.postWebhook('tachyon-payout', { chainId: 8453, to: '0x3dbE34f2C21b3B2980d4dc53f3c7E51e39663F49', value: '1000', label: 'e2e payout' });
		await world.sink.waitFor('the relayed transaction', () => world.sink.requestsTo('/next-step').some((request) => (request.body as { chainId?: number }).chainId === 8453), DELIVERY_TIMEOUT_MS);
		const next = world.sink.requestsTo('/next-step').find((request) => (request.body as { chainId?: number }).chainId === 8453)!.body as { txId: string; status: string };
		expect(world.tachyon.getTransaction(next.txId)).toMatchObject({ label: 'e2e payout', chainId: 8453, value: '1000' });
		expect(['NOT_PICKED_UP', 'PENDING', 'EXECUTED']).toContain(next.status);
	});

	test('examples/allfeat-webhook-to-email.json: a signed delivery to the production URL sends the email, a forged one is refused', async () => {
		const transaction = world.allfeat.createTransaction();
		world.allfeat.advanceToEnd(transaction.id);
		const url = allfeatWebhookUrl(n8n.baseUrl);
		const payload = world.allfeat.webhookPayload(transaction.id);
		const forged = await world.allfeat.deliverWebhook(url, payload, world.secrets.allfeatWebhookSecret, { signatureHeader: 't=1,v1=forged' });
		expect(forged.status).toBe(401);
		const signed = await world.allfeat.deliverWebhook(url, payload, world.secrets.allfeatWebhookSecret);
		expect(signed.status).toBe(200);
		await world.sink.waitFor('the webhook email', () => world.sink.mails.some((mail) => mail.subject.startsWith('Allfeat ATS work_registered') && mail.raw.includes(transaction.id)), DELIVERY_TIMEOUT_MS);
		expect(world.sink.mails.filter((mail) => mail.subject.includes(transaction.id))).toHaveLength(1);
	});

	test('latency: the stream triggers, one transaction or job at a time (no burst of executions)', async () => {
		const liveFrom = Date.now();
		const kurierJobs: ExpectedTransitions[] = [];
		const tachyonTxs: ExpectedTransitions[] = [];
		for (let round = 0; round < 5; round++) {
			const [job] = await submitKurierProofs(world, 1);
			await expectEveryTransitionOnce(world.sink, [job], DELIVERY_TIMEOUT_MS, 0);
			kurierJobs.push(job);
			const [tx] = submitTachyonTransactions(world, 1);
			await expectEveryTransitionOnce(world.sink, [tx], DELIVERY_TIMEOUT_MS, 0);
			tachyonTxs.push(tx);
		}
		recordTriggerLatency(lineName, 'regular', 'Kurier Trigger → HTTP Request, one job at a time', latencySamples(world.sink, kurierJobs, liveFrom));
		recordTriggerLatency(lineName, 'regular', 'Tachyon Trigger → HTTP Request, one tx at a time', latencySamples(world.sink, tachyonTxs, liveFrom));
	});

	test('latency: n8n\'s own Webhook node → the same sink, the baseline', async () => {
		const samples: number[] = [];
		for (let i = 0; i < 20; i++) {
			const before = world.sink.requestsTo('/latency/webhook').length;
			const sentAt = Date.now();
			await n8n.postWebhook('e2e-latency-baseline', { i });
			await world.sink.waitFor('the baseline call', () => world.sink.requestsTo('/latency/webhook').length > before, DELIVERY_TIMEOUT_MS);
			samples.push(world.sink.requestsTo('/latency/webhook').at(-1)!.receivedAt - sentAt);
		}
		recordLatency(lineName, 'regular', 'n8n Webhook node → HTTP Request (baseline)', samples);
		expect(samples).toHaveLength(20);
	});

	test('the triggers of one key share one socket; deactivating the workflows closes every socket at the services', async () => {
		// Two Kurier triggers (and every Wait for Job) on one key, two Tachyon triggers on one WebSocket key.
		expect(world.kurier.openConnectionCount()).toBe(1);
		expect(world.tachyon.openConnectionCount()).toBe(1);
		for (const workflow of scenario.deployed) await n8n.deactivate(workflow);
		await waitUntil('every socket to close', () => world.kurier.openConnectionCount() === 0 && world.tachyon.openConnectionCount() === 0 && world.allfeat.openConnectionCount() === 0, 15_000);
	});

	test('n8n\'s log never contains a key', () => {
		const logs = n8n.logs();
		expect(logs).toMatch(/n8n-nodes-onchain-events|Kurier|Tachyon|Allfeat/);
		for (const secret of world.secretValues()) expect({ secret: secret.slice(0, 6), found: logs.includes(secret) }).toEqual({ secret: secret.slice(0, 6), found: false });
	});
});

function isAbout(id: string) {
	return (request: { body: unknown }) => JSON.stringify(request.body).includes(id);
}
