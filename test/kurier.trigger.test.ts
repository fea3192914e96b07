/**
 * Kurier Trigger inside n8n's engine (n8n-core's ActiveWorkflowTriggers and WorkflowExecute), over
 * real WebSocket and HTTP to the Kurier emulator on 127.0.0.1.
 */
import { NodeApiError } from 'n8n-workflow';

import { KurierEmulator } from '../emulators/kurier';
import { KurierTrigger } from '../nodes/Kurier/KurierTrigger.node';
import { KurierApiClient } from '../nodes/Kurier/KurierApiClient';
import { KurierJobStream } from '../nodes/Kurier/KurierJobStream';
import type { NormalizedItem } from '../nodes/shared/NormalizedItem';
import { activateTriggerExpectingError, engineLogs, runManually, testCredential } from './helpers/n8nEngine';
import type { ActiveTrigger, NodeUnderTest } from './helpers/n8nEngine';
import { eventually, staysTrue } from './helpers/wait';
import { TestScope } from './helpers/testScope';
import { emulatorPerTest } from './helpers/emulatorPerTest';
import { kurierCredentials, outsideConnection } from './helpers/kurier';

const scope = new TestScope();
const { later } = scope;

const KEY = 'kurier-test-key-5f1e9c2a';
const OTHER_KEY = 'kurier-other-key-77d0b1';
let emulator: KurierEmulator;

const credentials = (overrides: Record<string, string> = {}) => kurierCredentials(emulator, KEY, overrides);

const activate = scope.activator((parameters: Record<string, unknown>, creds: NodeUnderTest['credentials'] = credentials()) => ({ nodeType: new KurierTrigger(), parameters: parameters as never, credentials: creds }));


/** n8n wraps an activation failure; the node's own error is its cause. */
const nodeErrorName = (error: Error) => (error.cause as Error | undefined)?.name;

const statuses = (trigger: ActiveTrigger) => trigger.items().map((i) => `${String(i.id).slice(0, 4)}:${i.status}`);
const onlyStatuses = (trigger: ActiveTrigger) => trigger.items().map((i) => i.status);

emulatorPerTest({
	scope,
	start: async () => (emulator = await KurierEmulator.start({ apiKeys: [KEY, OTHER_KEY] })),
	close: async () => await emulator.close(),
	secrets: [KEY],
	clearEngineLogs: true,
});

describe('one job', () => {
	test('emits every status in order as a normalized item, then frees its socket at the final status', async () => {
		const job = emulator.createJob(KEY, { proofType: 'groth16' });
		const trigger = await activate({ event: 'job', jobId: job.jobId, statuses: [] });
		await trigger.waitForItems(1);
		emulator.advanceToEnd(job.jobId);
		const items = await trigger.waitForItems(5);
		expect(items.map((i) => i.status)).toEqual(['Queued', 'Valid', 'Submitted', 'IncludedInBlock', 'Finalized']);
		expect(trigger.emissions.every((e) => e.length === 1)).toBe(true);
		const final = items[4] as unknown as NormalizedItem;
		expect(final).toMatchObject({ source: 'kurier', id: job.jobId, phase: 'succeeded', isFinal: true, chainId: null, error: null, progress: null });
		expect(final.txHash).toMatch(/^0x[0-9a-f]{64}$/);
		expect(final.details).toMatchObject({ proofType: 'groth16' });
		expect(Date.parse(final.occurredAt)).not.toBeNaN();
		expect(items.slice(0, 4).every((i) => i.isFinal === false && i.phase === 'pending')).toBe(true);
		await eventually(() => expect(emulator.openConnectionCount()).toBe(0));
		expect(JSON.stringify(items)).not.toContain(KEY);
	});

	test('a job with a destination chain goes on past Finalized to Aggregated', async () => {
		const job = emulator.createJob(KEY, { proofType: 'ultrahonk', chainId: 84532 });
		const trigger = await activate({ event: 'job', jobId: job.jobId, statuses: [] });
		emulator.advanceToEnd(job.jobId);
		const items = await trigger.waitForItems(6);
		expect(items.map((i) => i.status)).toEqual(['Queued', 'Valid', 'Submitted', 'IncludedInBlock', 'AggregationPending', 'Aggregated']);
		expect(items[5]).toMatchObject({ isFinal: true, chainId: 84532, phase: 'succeeded' });
		expect((items[5].details as Record<string, unknown>).aggregationDetails).toBeDefined();
	});

	test('a job that is already final when the trigger starts is emitted at once', async () => {
		const job = emulator.createJob(KEY, { willFail: true });
		emulator.advanceToEnd(job.jobId);
		const trigger = await activate({ event: 'job', jobId: job.jobId, statuses: [] });
		const items = await trigger.waitForItems(1);
		expect(items[0]).toMatchObject({ status: 'Failed', phase: 'failed', isFinal: true });
		expect(items[0].error).toEqual(expect.any(String));
		await eventually(() => expect(emulator.openConnectionCount()).toBe(0));
	});

	test('the statuses filter emits only the chosen statuses', async () => {
		const job = emulator.createJob(KEY);
		const trigger = await activate({ event: 'job', jobId: job.jobId, statuses: ['Submitted', 'Finalized'] });
		emulator.advanceToEnd(job.jobId);
		await trigger.waitForItems(2);
		await staysTrue(() => expect(onlyStatuses(trigger)).toEqual(['Submitted', 'Finalized']));
	});

	test('reconnect in the middle of a job: nothing lost that REST can tell, nothing repeated', async () => {
		const job = emulator.createJob(KEY);
		const trigger = await activate({ event: 'job', jobId: job.jobId, statuses: [] });
		emulator.advance(job.jobId); // Valid
		await trigger.waitForItems(2);
		emulator.dropAllConnections();
		emulator.advance(job.jobId); // Submitted, while nobody listens
		await trigger.waitForItems(3, 5000); // recovered through the REST reconcile after reconnecting
		expect(emulator.stats.connectionsAccepted).toBe(2);
		emulator.advanceToEnd(job.jobId);
		await trigger.waitForItems(5);
		await staysTrue(() => expect(onlyStatuses(trigger)).toEqual(['Queued', 'Valid', 'Submitted', 'IncludedInBlock', 'Finalized']));
		expect(trigger.errors).toEqual([]);
	});

	test('a frame the server repeats verbatim is emitted once', async () => {
		const job = emulator.createJob(KEY);
		const trigger = await activate({ event: 'job', jobId: job.jobId, statuses: [] });
		await trigger.waitForItems(1);
		const valid = emulator.advance(job.jobId);
		const frame = JSON.stringify({ type: 'job-status-update', data: { ...valid, event: 'valid' } });
		emulator.sendRawToAll(frame);
		emulator.sendRawToAll(frame);
		emulator.advance(job.jobId);
		await trigger.waitForItems(3);
		await staysTrue(() => expect(onlyStatuses(trigger)).toEqual(['Queued', 'Valid', 'Submitted']));
	});

	test('malformed frames are logged and skipped; later updates still arrive', async () => {
		const job = emulator.createJob(KEY);
		const trigger = await activate({ event: 'job', jobId: job.jobId, statuses: [] });
		await trigger.waitForItems(1);
		emulator.sendRawToAll('{"type":"job-status-update","data":');
		emulator.sendRawToAll(JSON.stringify({ type: 'job-status-update', data: { status: 'Valid' } }));
		emulator.sendRawToAll(JSON.stringify({ type: 'something-new', x: 1 }));
		emulator.advance(job.jobId);
		await trigger.waitForItems(2);
		expect(onlyStatuses(trigger)).toEqual(['Queued', 'Valid']);
		const warnings = engineLogs.messages('warn').join('\n');
		expect(warnings).toContain('not JSON');
		expect(warnings).toContain('Kurier: skipped a frame of type "job-status-update"');
		expect(warnings).toContain('Kurier: skipped a frame of type "something-new"');
		expect(trigger.errors).toEqual([]);
	});

	test('a rate-limited subscribe is retried after retryAfterSeconds', async () => {
		const job = emulator.createJob(KEY);
		emulator.rateLimitNextSubscribes(1, 0.3);
		const trigger = await activate({ event: 'job', jobId: job.jobId, statuses: [] });
		await trigger.waitForItems(1); // Queued, from REST
		await eventually(() => expect(emulator.stats.subscribeMessages).toBe(2), 3000);
		emulator.advance(job.jobId);
		await trigger.waitForItems(2);
		expect(engineLogs.messages('warn').join()).toContain('RATE_LIMITED');
	});

	test('a rate-limited subscribe after a reconnect: what moved before the new subscription arrives over REST right after it', async () => {
		const trigger = await activate({ event: 'allJobs', statuses: [] });
		const job = emulator.createJob(KEY);
		await trigger.waitForItems(1);
		const subscribesBefore = emulator.stats.subscribeMessages;
		emulator.rateLimitNextSubscribes(1, 0.5);
		emulator.closeAllConnections(1011);
		// Reconnected and refused: the reconcile after the reconnect has run (GET /jobs comes right after
		// it); the job moves on before the new subscription.
		await eventually(() => expect(emulator.stats.subscribeMessages).toBe(subscribesBefore + 1), 5000);
		await eventually(() => expect(emulator.stats.jobListRequests).toBe(1), 5000);
		expect(emulator.stats.subscribeMessages).toBe(subscribesBefore + 1);
		emulator.advance(job.jobId);
		await trigger.waitForItems(2, 3000);
		expect(onlyStatuses(trigger)).toEqual(['Queued', 'Valid']);
		expect(emulator.stats.subscribeMessages).toBe(subscribesBefore + 2);
	});

	test('missing, malformed and unknown job ids fail activation with a clear error', async () => {
		const missing = await activateTriggerExpectingError({ nodeType: new KurierTrigger(), parameters: { event: 'job', jobId: ' ' }, credentials: credentials() });
		expect(nodeErrorName(missing)).toBe('NodeOperationError');
		expect(missing.message).toBe('There was a problem activating the workflow: "No job ID given"');

		const malformed = await activateTriggerExpectingError({ nodeType: new KurierTrigger(), parameters: { event: 'job', jobId: 'job-42' }, credentials: credentials() });
		expect(malformed.message).toContain('"job-42" is not a Kurier job ID');

		const unknown = await activateTriggerExpectingError({
			nodeType: new KurierTrigger(),
			parameters: { event: 'job', jobId: '11111111-2222-4333-8444-555555555555' },
			credentials: credentials(),
		});
		expect(nodeErrorName(unknown)).toBe('NodeApiError');
		expect(unknown.message).toMatch(/Job not found/);
		expect(unknown.message).not.toContain(KEY);
		await eventually(() => expect(emulator.openConnectionCount()).toBe(0));
	});
});

describe('all jobs', () => {
	test('streams every job of the key, each in order, and ignores other keys\' jobs', async () => {
		const trigger = await activate({ event: 'allJobs', statuses: [] });
		const a = emulator.createJob(KEY);
		const b = emulator.createJob(KEY, { chainId: 84532 });
		const foreign = emulator.createJob(OTHER_KEY);
		emulator.advanceToEnd(foreign.jobId);
		emulator.advance(a.jobId);
		emulator.advance(b.jobId);
		emulator.advanceToEnd(a.jobId);
		emulator.advanceToEnd(b.jobId);
		await trigger.waitForItems(11);
		const byJob = (id: string) => trigger.items().filter((i) => i.id === id).map((i) => i.status);
		await staysTrue(() => {
			expect(byJob(a.jobId)).toEqual(['Queued', 'Valid', 'Submitted', 'IncludedInBlock', 'Finalized']);
			expect(byJob(b.jobId)).toEqual(['Queued', 'Valid', 'Submitted', 'IncludedInBlock', 'AggregationPending', 'Aggregated']);
			expect(trigger.items()).toHaveLength(11);
		});
		// The all-jobs socket stays open for jobs to come.
		expect(emulator.openConnectionCount(KEY)).toBe(1);
	});

	test('after a reconnect, jobs seen but not final are reconciled over REST; final ones are not asked again', async () => {
		const trigger = await activate({ event: 'allJobs', statuses: [] });
		const open = emulator.createJob(KEY);
		const done = emulator.createJob(KEY);
		emulator.advanceToEnd(done.jobId);
		await trigger.waitForItems(6);
		emulator.dropAllConnections();
		emulator.advance(open.jobId); // missed on the socket
		emulator.advance(open.jobId);
		await eventually(() => expect(statuses(trigger)).toContain(`${open.jobId.slice(0, 4)}:Submitted`), 5000);
		// After the reconcile, the trigger asks GET /jobs once (off here: 404) for jobs created meanwhile.
		await eventually(() => expect(emulator.stats.jobListRequests).toBe(1));
		const restBefore = emulator.stats.restRequests;
		emulator.advanceToEnd(open.jobId);
		await eventually(() => expect(trigger.items().filter((i) => i.id === open.jobId).map((i) => i.status)).toEqual(['Queued', 'Submitted', 'IncludedInBlock', 'Finalized']));
		expect(trigger.items().filter((i) => i.id === done.jobId)).toHaveLength(5);
		expect(emulator.stats.restRequests).toBe(restBefore);
	});

	test('a job the service no longer knows does not stop the reconcile of the others', async () => {
		const trigger = await activate({ event: 'allJobs', statuses: [] });
		const ghostId = '99999999-8888-4777-8666-555555555555';
		emulator.sendRawToAll(JSON.stringify({ type: 'job-status-update', data: { jobId: ghostId, status: 'Queued' } }));
		const real = emulator.createJob(KEY);
		await trigger.waitForItems(2);
		emulator.dropAllConnections();
		emulator.advance(real.jobId);
		await eventually(() => expect(trigger.items().filter((i) => i.id === real.jobId).map((i) => i.status)).toEqual(['Queued', 'Valid']), 5000);
		expect(engineLogs.messages('warn').join('\n')).toContain(`could not reconcile job ${ghostId}`);
		expect(trigger.errors).toEqual([]);
	});

	test('the statuses filter applies to all jobs', async () => {
		const trigger = await activate({ event: 'allJobs', statuses: ['Failed'] });
		const ok = emulator.createJob(KEY);
		const bad = emulator.createJob(KEY, { willFail: true });
		emulator.advanceToEnd(ok.jobId);
		emulator.advanceToEnd(bad.jobId);
		await trigger.waitForItems(1);
		await staysTrue(() => expect(trigger.items()).toEqual([expect.objectContaining({ id: bad.jobId, status: 'Failed', phase: 'failed' })]));
	});

	test('two triggers in one process each get their own events, and each exactly once', async () => {
		const all = await activate({ event: 'allJobs', statuses: [] });
		const a = emulator.createJob(KEY);
		const b = emulator.createJob(KEY);
		const onlyB = await activate({ event: 'job', jobId: b.jobId, statuses: [] });
		emulator.advanceToEnd(a.jobId);
		emulator.advanceToEnd(b.jobId);
		await onlyB.waitForItems(5);
		await all.waitForItems(10);
		await staysTrue(() => {
			expect(onlyB.items().every((i) => i.id === b.jobId)).toBe(true);
			expect(onlyB.items()).toHaveLength(5);
			expect(all.items()).toHaveLength(10);
		});
	});
});

describe('credentials and failures', () => {
	test('a wrong key fails activation with one clear error and no reconnect storm', async () => {
		const error = await activateTriggerExpectingError({ nodeType: new KurierTrigger(), parameters: { event: 'allJobs' }, credentials: credentials({ apiKey: 'wrong-key-123456' }) });
		expect(nodeErrorName(error)).toBe('NodeApiError');
		expect(error.message).toMatch(/refused the credentials \(close code 1008/);
		expect(error.message).not.toContain('wrong-key-123456');
		await staysTrue(() => expect(emulator.stats.connectionsRefused + emulator.stats.connectionsAccepted).toBe(1));
	});

	test('a key refused while running (close 1008) is reported once through emitError, without retries', async () => {
		const trigger = await activate({ event: 'allJobs', statuses: [] });
		emulator.closeAllConnections(1008, 'Unauthorized');
		const error = await trigger.waitForError();
		expect(error).toBeInstanceOf(NodeApiError);
		// One error, no retry (the key still works, so a retry would be accepted).
		await staysTrue(() => {
			expect(trigger.errors).toHaveLength(1);
			expect(emulator.stats.connectionsAccepted + emulator.stats.connectionsRefused).toBe(1);
		});
		expect(error.message).not.toContain(KEY);
	});

	test("over the key's connection limit, activation fails with Kurier's reason", async () => {
		await emulator.close();
		emulator = await KurierEmulator.start({ apiKeys: [KEY, OTHER_KEY], maxConnectionsPerKey: 1 });
		const elsewhere = await outsideConnection(emulator, KEY);
		try {
			const error = await activateTriggerExpectingError({ nodeType: new KurierTrigger(), parameters: { event: 'allJobs' }, credentials: credentials() });
			expect(error.message).toMatch(/closed with code 1013.*CONNECTION_LIMIT.*Too many connections/);
			expect(emulator.openConnectionCount(KEY)).toBe(1);
		} finally {
			elsewhere.terminate();
		}
	});

	test('an unreachable host fails activation with a redacted message', async () => {
		const port = emulator.port;
		await emulator.close();
		const error = await activateTriggerExpectingError({ nodeType: new KurierTrigger(), parameters: { event: 'allJobs' }, credentials: credentials() });
		expect(nodeErrorName(error)).toBe('NodeApiError');
		expect(error.message).toContain('refused the connection');
		// In the editor the description names the URL, redacted.
		const run = await runManually({ nodeType: new KurierTrigger(), parameters: { event: 'allJobs' }, credentials: credentials() });
		const description = (run.error as NodeApiError).description ?? '';
		expect(description).toContain(`ws://127.0.0.1:${port}/api/v1/ws?apiKey=[redacted]`);
		expect(description + run.error?.message).not.toContain(KEY);
		emulator = await KurierEmulator.start({ apiKeys: [KEY, OTHER_KEY] });
	});

	test('a credential without a key, or with a bad base URL, is a clear error', async () => {
		const noKey = await activateTriggerExpectingError({ nodeType: new KurierTrigger(), parameters: { event: 'allJobs' }, credentials: credentials({ apiKey: '' }) });
		expect(noKey.message).toMatch(/no API key/);
		const badUrl = await activateTriggerExpectingError({ nodeType: new KurierTrigger(), parameters: { event: 'allJobs' }, credentials: credentials({ baseUrl: 'localhost:4010' }) });
		expect(badUrl.message).toMatch(/is not an http\(s\) URL/);
	});

	test('the credential test tells a right key from a wrong one, against the service', async () => {
		const right = await testCredential(new KurierTrigger(), 'kurierApiCredentialTest', 'kurierApi', credentials().kurierApi);
		expect(right).toEqual({ status: 'OK', message: expect.any(String) });
		const wrong = await testCredential(new KurierTrigger(), 'kurierApiCredentialTest', 'kurierApi', credentials({ apiKey: 'not-a-real-key' }).kurierApi);
		expect(wrong.status).toBe('Error');
		expect(wrong.message).toMatch(/401.*Unauthorized or disabled API key/);
		expect(wrong.message).not.toContain('not-a-real-key');
		await emulator.close();
		const down = await testCredential(new KurierTrigger(), 'kurierApiCredentialTest', 'kurierApi', credentials().kurierApi);
		expect(down.status).toBe('Error');
		expect(down.message).toMatch(/Could not reach/);
		emulator = await KurierEmulator.start({ apiKeys: [KEY, OTHER_KEY] });
	});
});

describe('lifecycle', () => {
	// Deactivation, a cancelled reconnect and repeated activations: test/lifecycle.test.ts (every service).
	test('the keep-alive notices a server that stopped answering and reconnects', async () => {
		const items: NormalizedItem[] = [];
		const stream = new KurierJobStream({
			client: new KurierApiClient({ restBaseUrl: emulator.restBaseUrl, apiKey: KEY }),
			target: { kind: 'allJobs' },
			keepAlive: { intervalMs: 50, timeoutMs: 100, pingFrame: { type: 'ping' } },
			backoff: { initialMs: 20 },
			onItem: (item) => items.push(item),
			onFatal: (error) => {
				throw error;
			},
		});
		await stream.start();
		await eventually(() => expect(emulator.stats.pingsReceived).toBeGreaterThan(1));
		emulator.setAnswerPings(false);
		await eventually(() => expect(emulator.stats.connectionsAccepted).toBe(2), 3000);
		emulator.setAnswerPings(true);
		await eventually(() => expect(emulator.stats.subscribeMessages).toBe(2)); // subscribed again
		emulator.createJob(KEY);
		await eventually(() => expect(items).toHaveLength(1));
		await stream.close();
	});
});

describe('manual mode ("Listen for test event")', () => {
	test('emits the first matching event, then stops listening', async () => {
		const job = emulator.createJob(KEY);
		later(200, () => emulator.advanceToEnd(job.jobId));
		const run = await runManually({ nodeType: new KurierTrigger(), parameters: { event: 'allJobs', statuses: ['Submitted'] }, credentials: credentials() });
		expect(run.error).toBeUndefined();
		expect(run.items).toEqual([expect.objectContaining({ id: job.jobId, status: 'Submitted', source: 'kurier' })]);
		await eventually(() => expect(emulator.openConnectionCount()).toBe(0));
	});

	test('for one job already moving, its current status is the test event', async () => {
		const job = emulator.createJob(KEY);
		emulator.advance(job.jobId);
		const run = await runManually({ nodeType: new KurierTrigger(), parameters: { event: 'job', jobId: job.jobId }, credentials: credentials() });
		expect(run.items).toEqual([expect.objectContaining({ status: 'Valid' })]);
		await eventually(() => expect(emulator.openConnectionCount()).toBe(0));
	});

	test('a wrong key is a node error in the editor, not a hang', async () => {
		const run = await runManually({ nodeType: new KurierTrigger(), parameters: { event: 'allJobs' }, credentials: credentials({ apiKey: 'wrong-key-98765' }) });
		expect(run.error?.message).toMatch(/refused the credentials/);
		expect(run.error?.message).not.toContain('wrong-key-98765');
	});
});
