/**
 * Kurier Trigger connection handling against the emulator's variants, in n8n's engine over real sockets:
 * - close code 1008 is a refused key only when the reason or the error frame says so; a connection
 *   limit or the 24 h lifetime closed with 1008 is reconnected with backoff;
 * - `GET /jobs` (described only by a workshop knowledge base): where it answers, All Jobs recovers jobs
 *   created and finished while disconnected; where it does not (404 / 401), the trigger goes on as before.
 */
import { NodeApiError } from 'n8n-workflow';

import { KurierEmulator } from '../emulators/kurier';
import { KurierTrigger } from '../nodes/Kurier/KurierTrigger.node';
import { isKurierKeyRefusal, isKurierLifetimeClose, parseJobsPage } from '../nodes/Kurier/protocol';
import { KurierApiClient } from '../nodes/Kurier/KurierApiClient';
import { KurierJobStream } from '../nodes/Kurier/KurierJobStream';
import type { NormalizedItem } from '../nodes/shared/NormalizedItem';
import { activateTriggerExpectingError, engineLogs } from './helpers/n8nEngine';
import { eventually, sleep, staysTrue } from './helpers/wait';
import { TestScope } from './helpers/testScope';
import { emulatorPerTest } from './helpers/emulatorPerTest';
import { kurierCredentials, kurierTriggerSubject, outsideConnection } from './helpers/kurier';

const scope = new TestScope();

const KEY = 'kurier-connection-key-3a8f';
let emulator: KurierEmulator;

const credentials = () => kurierCredentials(emulator, KEY);

const activate = scope.activator((parameters: Record<string, unknown> = { event: 'allJobs', statuses: [] }) => kurierTriggerSubject(emulator, KEY, parameters));

const statusesOf = (items: Array<Record<string, unknown>>, id: string) => items.filter((i) => i.id === id).map((i) => i.status);

emulatorPerTest({
	scope,
	start: async () => (emulator = await KurierEmulator.start({ apiKeys: [KEY] })),
	close: async () => await emulator.close(),
	secrets: [KEY],
	clearEngineLogs: true,
});

describe('close code 1008', () => {
	test('classification: the reason speaks first, then the error frame, then whether the connection was up', () => {
		expect(isKurierKeyRefusal(1008, 'Unauthorized', null, false)).toBe(true);
		expect(isKurierKeyRefusal(1008, 'Unauthorized', null, true)).toBe(true);
		expect(isKurierKeyRefusal(1008, 'Invalid API key', null, true)).toBe(true);
		expect(isKurierKeyRefusal(1008, 'Connection limit exceeded', null, false)).toBe(false);
		expect(isKurierKeyRefusal(1008, 'Too many connections for this API key', null, false)).toBe(false);
		expect(isKurierKeyRefusal(1008, 'Connection lifetime exceeded', null, true)).toBe(false);
		expect(isKurierKeyRefusal(1008, '', { code: 'CONNECTION_LIMIT', message: 'Too many connections' }, false)).toBe(false);
		expect(isKurierKeyRefusal(1008, '', { code: 'CONNECTION_LIFETIME_EXCEEDED', message: 'Maximum connection lifetime of 24 hours reached' }, true)).toBe(false);
		expect(isKurierKeyRefusal(1008, '', { code: 'UNAUTHORIZED', message: 'Unauthorized or disabled API key' }, true)).toBe(true);
		// A reason that names the key beats an older rate-limit error frame.
		expect(isKurierKeyRefusal(1008, 'Unauthorized', { code: 'RATE_LIMITED', message: 'Too many subscription requests' }, true)).toBe(true);
		// Says nothing: refused at connect (the key is checked there); after a working connection, retried.
		expect(isKurierKeyRefusal(1008, '', null, false)).toBe(true);
		expect(isKurierKeyRefusal(1008, '', null, true)).toBe(false);
		expect(isKurierKeyRefusal(4401, '', null, true)).toBe(true);
		expect(isKurierKeyRefusal(1013, 'Try Again Later', null, false)).toBe(false);
		expect(isKurierKeyRefusal(1001, 'Going away', null, true)).toBe(false);
	});

	test.each([
		['connection limit, said in the reason', () => emulator.closeAllConnections(1008, 'Connection limit exceeded')],
		['24 h lifetime, said in the reason', () => emulator.expireConnections()],
		['24 h lifetime, said in an error frame before an empty-reason close', () => emulator.expireConnections({ errorFrame: true })],
		['no reason at all, after a working connection', () => emulator.closeAllConnections(1008)],
	])('1008 for a %s: the running trigger reconnects and goes on, no error', async (_label, close) => {
		const trigger = await activate();
		close();
		await eventually(() => expect(emulator.stats.connectionsAccepted).toBe(2), 4000);
		await eventually(() => expect(emulator.stats.subscribeMessages).toBe(2));
		const job = emulator.createJob(KEY);
		emulator.advanceToEnd(job.jobId);
		await trigger.waitForItems(5);
		expect(trigger.errors).toEqual([]);
		expect(engineLogs.messages('warn').join('\n')).toMatch(/closed with code 1008/);
	});

	test('1008 "Unauthorized" for a revoked key stops the trigger once, with the credentials message', async () => {
		const trigger = await activate();
		emulator.revokeKey(KEY);
		const error = await trigger.waitForError();
		expect(error).toBeInstanceOf(NodeApiError);
		expect(error.message).toMatch(/refused the credentials \(close code 1008: Unauthorized\)/);
		// One error, and no reconnect attempt (accepted or refused) after it.
		await staysTrue(() => {
			expect(trigger.errors).toHaveLength(1);
			expect(emulator.stats.connectionsAccepted + emulator.stats.connectionsRefused).toBe(1);
		});
	});

	test('an unexplained 1008 after a working connection is retried, and the reconnect gives the verdict', async () => {
		const trigger = await activate();
		// The key goes, and the server closes without saying why.
		emulator.revokeKey(KEY, false);
		emulator.closeAllConnections(1008);
		const error = await trigger.waitForError();
		expect(error.message).toMatch(/refused the credentials \(close code 1008: Unauthorized\)/);
		expect(emulator.stats.connectionsRefused).toBe(1);
		// The verdict is final: one error, no further attempt.
		await staysTrue(() => {
			expect(trigger.errors).toHaveLength(1);
			expect(emulator.stats.connectionsAccepted + emulator.stats.connectionsRefused).toBe(2);
		});
	});

	test('over the connection limit closed with 1008, activation fails with the limit, not with "refused the credentials"', async () => {
		await emulator.close();
		emulator = await KurierEmulator.start({ apiKeys: [KEY], maxConnectionsPerKey: 1, connectionLimitCloseCode: 1008 });
		const elsewhere = await outsideConnection(emulator, KEY);
		try {
			const error = await activateTriggerExpectingError({ nodeType: new KurierTrigger(), parameters: { event: 'allJobs' }, credentials: credentials() });
			expect(error.message).toMatch(/closed with code 1008 \(Connection limit exceeded\).*CONNECTION_LIMIT/);
			expect(error.message).not.toMatch(/refused the credentials/);
			expect(emulator.openConnectionCount(KEY)).toBe(1);
		} finally {
			elsewhere.terminate();
		}
	});
});

describe('maximum connection lifetime', () => {
	const stream = (stableAfterMs: number) => {
		const client = new KurierApiClient({ restBaseUrl: emulator.restBaseUrl, apiKey: KEY });
		const items: NormalizedItem[] = [];
		const errors: Error[] = [];
		const started = new KurierJobStream({ client, target: { kind: 'allJobs' }, sweepIntervalMs: 0, backoff: { initialMs: 2_000, maxMs: 2_000, stableAfterMs }, onItem: (item) => items.push(item), onFatal: (error) => errors.push(error) });
		return { started, items, errors };
	};

	test('classification: the reason or the error frame before the close names the lifetime', () => {
		expect(isKurierLifetimeClose(1008, 'Connection lifetime exceeded', null)).toBe(true);
		expect(isKurierLifetimeClose(1000, '', { code: 'CONNECTION_LIFETIME_EXCEEDED', message: 'Maximum connection lifetime of 24 hours reached' })).toBe(true);
		expect(isKurierLifetimeClose(1008, 'Unauthorized', null)).toBe(false);
		expect(isKurierLifetimeClose(1013, 'Try Again Later', { code: 'CONNECTION_LIMIT', message: 'Too many connections' })).toBe(false);
		expect(isKurierLifetimeClose(4001, 'lifetime', null)).toBe(false);
	});

	test.each([
		['close reason', {}],
		['error frame, then a close without reason', { errorFrame: true }],
	])('a connection retired at its lifetime (%s) is replaced at once, without backoff; nothing is lost', async (_how, expiry) => {
		const { started, items, errors } = stream(200);
		await started.start();
		try {
			// Up longer than stableAfterMs (200 ms) and than the 1 s floor for an immediate replacement:
			// the connection's age is what this test is about, so this wait stays a fixed one.
			await sleep(1_100);
			const job = emulator.createJob(KEY);
			await eventually(() => expect(items).toHaveLength(1));
			const retiredAt = Date.now();
			emulator.expireConnections(expiry);
			await eventually(() => expect(emulator.stats.connectionsAccepted).toBe(2), 1_000);
			// The backoff would have waited at least 1 s (2 s, equal jitter).
			expect(Date.now() - retiredAt).toBeLessThan(900);
			emulator.advance(job.jobId);
			await eventually(() => expect(items.map((item) => item.status)).toEqual(['Queued', 'Valid']));
			expect(errors).toEqual([]);
			expect(engineLogs.messages('warn').join('\n')).not.toMatch(/lost/);
		} finally {
			await started.close();
		}
	});

	test('a connection retired before it was stable takes the backoff (no loop against a server that closes every connection)', async () => {
		const { started } = stream(10_000);
		await started.start();
		try {
			emulator.expireConnections();
			// The quiet period is shorter than the backoff's floor (2 s with equal jitter: at least 1 s).
			await staysTrue(() => expect(emulator.stats.connectionsAccepted).toBe(1));
			await eventually(() => expect(emulator.stats.connectionsAccepted).toBe(2), 3_000);
		} finally {
			await started.close();
		}
	});
});

describe('GET /jobs', () => {
	test('parsing: bare arrays and the usual envelopes, `id` for `jobId`, the service\'s paging words', () => {
		const job = { jobId: 'j1', status: 'Queued' };
		expect(parseJobsPage([job], 1, 10)).toEqual({ jobs: [job], hasMore: false });
		expect(parseJobsPage({ data: [{ id: 'j2', status: 'Valid' }], totalPages: 2 }, 1, 10)).toEqual({ jobs: [{ jobId: 'j2', id: 'j2', status: 'Valid' }], hasMore: true });
		expect(parseJobsPage({ jobs: [job, { nope: 1 }], total: 11 }, 1, 2)?.hasMore).toBe(true);
		expect(parseJobsPage({ items: [job], hasMore: false }, 1, 1)?.hasMore).toBe(false);
		expect(parseJobsPage({ message: 'hello' }, 1, 10)).toBeNull();
		expect(parseJobsPage('<html>', 1, 10)).toBeNull();
	});

	test('where it answers, a job created and finished while disconnected is delivered after the reconnect', async () => {
		emulator.setJobListing('on');
		const trigger = await activate();
		const seen = emulator.createJob(KEY);
		await trigger.waitForItems(1);
		emulator.dropAllConnections();
		const hidden = emulator.createJob(KEY, { chainId: null });
		emulator.advanceToEnd(hidden.jobId);
		await eventually(() => expect(statusesOf(trigger.items(), hidden.jobId)).toEqual(['Finalized']), 5000);
		expect(statusesOf(trigger.items(), seen.jobId)).toEqual(['Queued']);
		expect(emulator.stats.jobListRequests).toBe(1);
		// Seen once, not again at the next reconnect.
		emulator.dropAllConnections();
		await eventually(() => expect(emulator.stats.jobListRequests).toBe(2), 5000);
		await staysTrue(() => expect(statusesOf(trigger.items(), hidden.jobId)).toEqual(['Finalized']));
		expect(trigger.errors).toEqual([]);
	});

	test.each([
		['off (404)', 'off' as const],
		['not for API keys (401)', 'unauthorized' as const],
	])('where it is %s, the trigger goes on as before and stops asking', async (_label, mode) => {
		emulator.setJobListing(mode);
		const trigger = await activate();
		const open = emulator.createJob(KEY);
		await trigger.waitForItems(1);
		emulator.dropAllConnections();
		const hidden = emulator.createJob(KEY);
		emulator.advance(open.jobId);
		await eventually(() => expect(statusesOf(trigger.items(), open.jobId)).toEqual(['Queued', 'Valid']), 5000);
		await eventually(() => expect(emulator.stats.jobListRequests).toBe(1));
		expect(statusesOf(trigger.items(), hidden.jobId)).toEqual([]);
		await eventually(() => expect(engineLogs.messages('info').join('\n')).toContain('GET /jobs is not available'));
		// Its next update still arrives over the socket.
		emulator.advance(hidden.jobId);
		await eventually(() => expect(statusesOf(trigger.items(), hidden.jobId)).toEqual(['Valid']));
		emulator.dropAllConnections();
		await eventually(() => expect(emulator.stats.connectionsAccepted).toBe(3), 5000);
		await staysTrue(() => expect(emulator.stats.jobListRequests).toBe(1));
		expect(trigger.errors).toEqual([]);
	});
});
