/**
 * One socket per key in an n8n process: triggers on the same Kurier URL and key (or the same
 * Tachyon WebSocket key) share one WebSocket, each subscribes and unsubscribes its own job or all
 * jobs, each receives only its own events, and the last one out closes it. Triggers run inside
 * n8n's engine (n8n-core's ActiveWorkflowTriggers), over real WebSockets to the emulators.
 */
import { KurierEmulator } from '../emulators/kurier';
import { TachyonEmulator } from '../emulators/tachyon';
import { KurierTrigger } from '../nodes/Kurier/KurierTrigger.node';
import { KurierApiClient } from '../nodes/Kurier/KurierApiClient';
import { KurierJobStream } from '../nodes/Kurier/KurierJobStream';
import { TachyonTrigger } from '../nodes/Tachyon/TachyonTrigger.node';
import { sharedSockets } from '../nodes/shared/SocketPool';
import { activateTrigger, activateTriggerExpectingError, engineLogs } from './helpers/n8nEngine';
import type { ActiveTrigger } from './helpers/n8nEngine';
import { activeTimerCount, eventually, staysTrue } from './helpers/wait';
import { TestScope } from './helpers/testScope';
import { kurierCredentials } from './helpers/kurier';

const scope = new TestScope();

const KEY = 'kurier-pool-key-0c1d2e3f';
const OTHER_KEY = 'kurier-pool-other-9a8b7c';
const TACHYON = { apiKey: 'tachyon-pool-api-5e6f', dashboardJwt: 'pool-jwt-1a2b', wsKey: 'ws_pool_7788' };

let kurier: KurierEmulator;
let tachyon: TachyonEmulator;
let timersBefore: number;

beforeEach(async () => {
	timersBefore = activeTimerCount();
	kurier = await KurierEmulator.start({ apiKeys: [KEY, OTHER_KEY] });
	tachyon = await TachyonEmulator.start({ accounts: [TACHYON] });
});

afterEach(async () => {
	await scope.end();
	await kurier.close();
	await tachyon.close();
});

const kurierTrigger = async (parameters: Record<string, unknown>, apiKey = KEY) =>
	scope.track(await activateTrigger({ nodeType: new KurierTrigger(), parameters: { statuses: [], ...parameters } as never, credentials: kurierCredentials(kurier, apiKey) }));

const tachyonTrigger = async (parameters: Record<string, unknown> = {}) =>
	scope.track(
		await activateTrigger({
			nodeType: new TachyonTrigger(),
			parameters: { statuses: [], txIds: '', chainIds: '', ...parameters } as never,
			credentials: { tachyonApi: { baseUrl: tachyon.baseUrl, apiKey: TACHYON.apiKey, dashboardJwt: '', wsUrl: tachyon.wsUrl, wsKey: TACHYON.wsKey } },
		}),
	);

/**
 * A job, and an all-jobs trigger whose shared socket then drops and cannot come back for now (every
 * upgrade refused with 503; REST still answers): the socket is between two connections.
 */
async function jobWithSocketBetweenConnections(): Promise<string> {
	const jobId = kurier.createJob(KEY, { proofType: 'groth16' }).jobId;
	await kurierTrigger({ event: 'allJobs' });
	kurier.setRefuseUpgrades(503);
	kurier.closeAllConnections(1012, 'Service restart');
	await eventually(() => expect(kurier.stats.connectionsRefused).toBeGreaterThan(0), 5_000);
	expect(sharedSockets.size).toBe(1);
	return jobId;
}

const idsOf = (trigger: ActiveTrigger) => [...new Set(trigger.items().map((item) => String(item.id)))];
const statusesOf = (trigger: ActiveTrigger) => trigger.items().map((item) => String(item.status));

describe('Kurier: one socket per URL and key', () => {
	test('100 job triggers on one key share 1 socket; each gets only its own job; one leaving changes nothing for the others; the last out closes it', async () => {
		const jobs = Array.from({ length: 100 }, () => kurier.createJob(KEY, { proofType: 'groth16' }).jobId);
		const triggers: ActiveTrigger[] = [];
		for (const jobId of jobs) triggers.push(await kurierTrigger({ event: 'job', jobId }));

		expect(kurier.stats.connectionsAccepted).toBe(1);
		expect(kurier.openConnectionCount(KEY)).toBe(1);
		expect(sharedSockets.size).toBe(1);
		// Each trigger subscribed its own job on the shared connection.
		expect(kurier.subscriptionsOf(KEY)).toEqual([{ all: false, jobIds: [...jobs].sort() }]);
		await eventually(() => triggers.forEach((trigger) => expect(statusesOf(trigger)).toEqual(['Queued'])));

		// The first trigger is deactivated: its job is unsubscribed, nothing else changes.
		await triggers[0].deactivate();
		await eventually(() => expect(kurier.subscriptionsOf(KEY)).toEqual([{ all: false, jobIds: jobs.slice(1).sort() }]));
		expect(kurier.openConnectionCount(KEY)).toBe(1);

		for (const jobId of jobs) kurier.advanceToEnd(jobId);
		for (const [index, trigger] of triggers.entries()) {
			if (index === 0) continue;
			await trigger.waitForItems(5);
			expect(idsOf(trigger)).toEqual([jobs[index]]);
			expect(statusesOf(trigger)).toEqual(['Queued', 'Valid', 'Submitted', 'IncludedInBlock', 'Finalized']);
		}
		// The deactivated trigger hears nothing of its job's moves.
		await staysTrue(() => expect(statusesOf(triggers[0])).toEqual(['Queued']));
		expect(triggers.every((trigger) => trigger.errors.length === 0)).toBe(true);
		// Every job final: each trigger gave its share back, and the last one closed the socket.
		await eventually(() => expect(kurier.openConnectionCount()).toBe(0));
		expect(sharedSockets.size).toBe(0);
		expect(kurier.stats.connectionsAccepted).toBe(1);
	}, 60_000);

	test('all jobs and single jobs share the socket; when the all-jobs trigger leaves, the jobs others follow stay subscribed', async () => {
		const [first, second, third] = [0, 1, 2].map(() => kurier.createJob(KEY, { proofType: 'groth16' }).jobId);
		const all = await kurierTrigger({ event: 'allJobs' });
		const followsFirst = await kurierTrigger({ event: 'job', jobId: first });
		const followsSecond = await kurierTrigger({ event: 'job', jobId: second });
		expect(kurier.openConnectionCount(KEY)).toBe(1);
		expect(kurier.subscriptionsOf(KEY)).toEqual([{ all: true, jobIds: [first, second].sort() }]);

		kurier.advance(first);
		await all.waitForItems(1);
		await followsFirst.waitForItems(2);
		await staysTrue(() => {
			expect(idsOf(all)).toEqual([first]);
			expect(idsOf(followsSecond)).toEqual([second]);
			expect(statusesOf(followsSecond)).toEqual(['Queued']);
		});

		await all.deactivate();
		// unsubscribe-all stops every subscription of the connection: the jobs still followed are subscribed again.
		await eventually(() => expect(kurier.subscriptionsOf(KEY)).toEqual([{ all: false, jobIds: [first, second].sort() }]));
		kurier.advance(second);
		kurier.advance(third);
		await followsSecond.waitForItems(2);
		await staysTrue(() => {
			expect(statusesOf(followsSecond)).toEqual(['Queued', 'Valid']);
			expect(statusesOf(all)).toEqual(['Valid']);
			expect(idsOf(followsFirst)).toEqual([first]);
		});
		expect(kurier.openConnectionCount(KEY)).toBe(1);
	});

	test('a job that moves while the all-jobs trigger\'s unsubscribe-all has left it unsubscribed is read over REST at once', async () => {
		const jobId = kurier.createJob(KEY, { proofType: 'groth16' }).jobId;
		const all = await kurierTrigger({ event: 'allJobs' });
		const followsJob = await kurierTrigger({ event: 'job', jobId });
		await followsJob.waitForItems(1);
		// Between Kurier stopping every subscription of the connection and the job's new subscribe.
		kurier.onNextUnsubscribeAll(() => kurier.advance(jobId));
		await all.deactivate();
		// Not at the next periodic REST check (minutes away): the trigger reads its job after subscribing again.
		await followsJob.waitForItems(2, 3_000);
		expect(statusesOf(followsJob)).toEqual(['Queued', 'Valid']);
		await eventually(() => expect(kurier.subscriptionsOf(KEY)).toEqual([{ all: false, jobIds: [jobId] }]));
		kurier.advance(jobId);
		await followsJob.waitForItems(3);
		await staysTrue(() => expect(statusesOf(followsJob)).toEqual(['Queued', 'Valid', 'Submitted']));
	});

	test('a job trigger joining the socket while it is between connections reads its job at once: an unknown job fails its activation', async () => {
		const jobId = await jobWithSocketBetweenConnections();

		const unknown = await activateTriggerExpectingError({ nodeType: new KurierTrigger(), parameters: { event: 'job', jobId: '00000000-0000-4000-8000-000000000000', statuses: [] } as never, credentials: kurierCredentials(kurier, KEY) });
		expect(unknown.message).toMatch(/not found/i);

		// A known job: its current status now, over REST, while the socket is still away; then live.
		const known = await kurierTrigger({ event: 'job', jobId });
		await known.waitForItems(1);
		expect(statusesOf(known)).toEqual(['Queued']);
		kurier.setRefuseUpgrades(null);
		await eventually(() => expect(kurier.subscriptionsOf(KEY)).toEqual([{ all: true, jobIds: [jobId] }]), 10_000);
		kurier.advance(jobId);
		await known.waitForItems(2);
		await staysTrue(() => expect(statusesOf(known)).toEqual(['Queued', 'Valid']));
		expect(kurier.openConnectionCount(KEY)).toBe(1);
	}, 30_000);

	test('triggers activated all at once, while the socket is still connecting, share its one connection', async () => {
		const jobs = Array.from({ length: 8 }, () => kurier.createJob(KEY, { proofType: 'groth16' }).jobId);
		const triggers = await Promise.all([...jobs.map((jobId) => kurierTrigger({ event: 'job', jobId })), kurierTrigger({ event: 'allJobs' })]);
		expect(kurier.stats.connectionsAccepted).toBe(1);
		expect(kurier.subscriptionsOf(KEY)).toEqual([{ all: true, jobIds: [...jobs].sort() }]);
		for (const [index, jobId] of jobs.entries()) expect((await triggers[index].waitForItems(1)).map((item) => item.id)).toEqual([jobId]);
	});

	test('a trigger deactivated before its start finished leaves no socket, timer or pool entry behind', async () => {
		const client = new KurierApiClient({ restBaseUrl: kurier.restBaseUrl, apiKey: KEY });
		const stream = new KurierJobStream({ client, target: { kind: 'allJobs' }, onItem: () => undefined, onFatal: () => undefined });
		const starting = stream.start();
		await stream.close();
		await starting;
		expect(sharedSockets.size).toBe(0);
		await eventually(() => expect(kurier.openConnectionCount()).toBe(0));
		await eventually(() => expect(activeTimerCount()).toBeLessThanOrEqual(timersBefore));
		// The next trigger on that key starts a socket of its own, afresh.
		const next = await kurierTrigger({ event: 'allJobs' });
		const jobId = kurier.createJob(KEY, { proofType: 'groth16' }).jobId;
		expect((await next.waitForItems(1)).map((item) => item.id)).toEqual([jobId]);
		expect(kurier.openConnectionCount(KEY)).toBe(1);
	});

	test('when n8n starts, a job trigger joining the socket between connections does not fail because REST answers 503 for now', async () => {
		const jobId = await jobWithSocketBetweenConnections();
		kurier.setRestFailure(503);
		// n8n starting (activation `init`): the socket will subscribe and read the job when it is back.
		const starting = scope.track(await activateTrigger({ nodeType: new KurierTrigger(), parameters: { event: 'job', jobId, statuses: [] } as never, credentials: kurierCredentials(kurier, KEY), activation: 'init' }));
		expect(starting.errors).toEqual([]);
		// A user's activation in the same state hears it at once.
		const userError = await activateTriggerExpectingError({ nodeType: new KurierTrigger(), parameters: { event: 'job', jobId, statuses: [] } as never, credentials: kurierCredentials(kurier, KEY) });
		expect(userError.message).toMatch(/503|internal error|unavailable/i);
		kurier.setRestFailure(null);
		kurier.setRefuseUpgrades(null);
		await starting.waitForItems(1, 10_000);
		expect(statusesOf(starting)).toEqual(['Queued']);
	}, 30_000);

	test('a job trigger whose subscribe is still unanswered when the all-jobs trigger leaves and the connection drops still finishes activating', async () => {
		const jobId = kurier.createJob(KEY, { proofType: 'groth16' }).jobId;
		const all = await kurierTrigger({ event: 'allJobs' });
		kurier.setConfirmSubscribes(false);
		const subscribesBefore = kurier.stats.subscribeMessages;
		const activating = kurierTrigger({ event: 'job', jobId });
		await eventually(() => expect(kurier.stats.subscribeMessages).toBe(subscribesBefore + 1));
		// Its subscribe waits for an answer; the unsubscribe-all makes it subscribe again (a second wait).
		await all.deactivate();
		await eventually(() => expect(kurier.stats.subscribeMessages).toBe(subscribesBefore + 2));
		// The drop clears both waits' timers: both must end, or the activation never would.
		kurier.setConfirmSubscribes(true);
		kurier.closeAllConnections(1012, 'Service restart');
		// Waited for as a condition with a deadline: a hung activation fails here instead of at the test's timeout.
		const settled: { trigger?: ActiveTrigger } = {};
		void activating.then((activated) => (settled.trigger = activated));
		await eventually(() => expect(settled.trigger).toBeDefined(), 5_000);
		const trigger = settled.trigger as ActiveTrigger;
		await eventually(() => expect(kurier.subscriptionsOf(KEY)).toEqual([{ all: false, jobIds: [jobId] }]), 10_000);
		kurier.advance(jobId);
		await trigger.waitForItems(2);
		expect(statusesOf(trigger)).toEqual(['Queued', 'Valid']);
	}, 30_000);

	test('two triggers on the same job: one leaving keeps the subscription for the other', async () => {
		const jobId = kurier.createJob(KEY, { proofType: 'groth16' }).jobId;
		const one = await kurierTrigger({ event: 'job', jobId });
		const two = await kurierTrigger({ event: 'job', jobId });
		await one.deactivate();
		// No unsubscribe reaches the emulator.
		await staysTrue(() => expect(kurier.subscriptionsOf(KEY)).toEqual([{ all: false, jobIds: [jobId] }]));
		kurier.advance(jobId);
		await two.waitForItems(2);
		expect(statusesOf(two)).toEqual(['Queued', 'Valid']);
	});

	test('another key, or another base URL, gets a socket of its own', async () => {
		await kurierTrigger({ event: 'allJobs' });
		await kurierTrigger({ event: 'allJobs' }, OTHER_KEY);
		expect(kurier.openConnectionCount(KEY)).toBe(1);
		expect(kurier.openConnectionCount(OTHER_KEY)).toBe(1);
		expect(sharedSockets.size).toBe(2);
	});

	test('a job the service does not know fails that activation only', async () => {
		const jobId = kurier.createJob(KEY, { proofType: 'groth16' }).jobId;
		const known = await kurierTrigger({ event: 'job', jobId });
		const error = await activateTriggerExpectingError({
			nodeType: new KurierTrigger(),
			parameters: { event: 'job', jobId: '00000000-0000-4000-8000-000000000000', statuses: [] } as never,
			credentials: kurierCredentials(kurier, KEY),
		});
		expect(error.message).toMatch(/not found|404/i);
		kurier.advance(jobId);
		await known.waitForItems(2);
		expect(known.errors).toEqual([]);
		expect(kurier.openConnectionCount(KEY)).toBe(1);
		expect(kurier.subscriptionsOf(KEY)).toEqual([{ all: false, jobIds: [jobId] }]);
	});

	test('two triggers on one job get items of their own: nothing nested in `details` is one object in both executions', async () => {
		const jobId = kurier.createJob(KEY, { proofType: 'groth16', willFail: true }).jobId;
		const triggers = [await kurierTrigger({ event: 'job', jobId, statuses: ['Failed'] }), await kurierTrigger({ event: 'allJobs', statuses: ['Failed'] })];
		expect(kurier.openConnectionCount(KEY)).toBe(1);
		kurier.advanceToEnd(jobId);
		const [first] = await triggers[0].waitForItems(1);
		const [second] = await triggers[1].waitForItems(1);
		const errorDetailsOf = (item: unknown) => (item as { details: { errorDetails: { message: string } } }).details.errorDetails;
		expect(errorDetailsOf(second).message).toBe('Proof verification failed on zkVerify');
		// A node of the first workflow editing its input in place.
		errorDetailsOf(first).message = 'edited by the first workflow';
		expect(errorDetailsOf(second).message).toBe('Proof verification failed on zkVerify');
	});

	test('a rate-limited subscribe is retried by the trigger it answers, once, not by every trigger on the socket', async () => {
		for (let i = 0; i < 4; i++) await kurierTrigger({ event: 'allJobs' });
		expect(kurier.stats.subscribeMessages).toBe(4);
		kurier.rateLimitNextSubscribes(1, 0.3);
		const joining = await kurierTrigger({ event: 'allJobs' });
		await eventually(() => expect(kurier.stats.subscribeMessages).toBe(6), 3_000);
		await staysTrue(() => expect(kurier.stats.subscribeMessages).toBe(6));
		const jobId = kurier.createJob(KEY, { proofType: 'groth16' }).jobId;
		await joining.waitForItems(1);
		expect(joining.items().map((item) => item.id)).toEqual([jobId]);
	});

	test('a frame none of them can read is logged once, however many triggers share the socket', async () => {
		const triggers = [await kurierTrigger({ event: 'allJobs' }), await kurierTrigger({ event: 'allJobs' }), await kurierTrigger({ event: 'allJobs', statuses: ['Failed'] })];
		engineLogs.clear();
		kurier.sendRawToAll(JSON.stringify({ type: 'job-status-update', data: { jobId: 42, status: 'Queued' } }));
		kurier.sendRawToAll(JSON.stringify({ type: 'something-new' }));
		const jobId = kurier.createJob(KEY, { proofType: 'groth16' }).jobId;
		await triggers[0].waitForItems(1);
		await triggers[1].waitForItems(1);
		const skips = engineLogs.messages('warn').filter((line) => line.startsWith('Kurier: skipped'));
		expect(skips).toHaveLength(2);
		expect(triggers[0].items().map((item) => item.id)).toEqual([jobId]);
	});

	test('a key revoked while shared: every trigger hears it once, no reconnect, and the socket leaves the pool', async () => {
		const triggers = [await kurierTrigger({ event: 'allJobs' }), await kurierTrigger({ event: 'allJobs', statuses: ['Failed'] })];
		kurier.revokeKey(KEY);
		for (const trigger of triggers) expect((await trigger.waitForError()).message).toMatch(/refused the credentials/);
		const attempts = kurier.stats.connectionsAccepted + kurier.stats.connectionsRefused;
		expect(kurier.stats.connectionsAccepted).toBe(1);
		// One error each, no reconnect attempt (accepted or refused).
		await staysTrue(() => {
			expect(triggers.map((trigger) => trigger.errors.length)).toEqual([1, 1]);
			expect(kurier.stats.connectionsAccepted + kurier.stats.connectionsRefused).toBe(attempts);
			expect(sharedSockets.size).toBe(0);
		});
	});

	test('deactivating every trigger closes the socket and leaves no timer behind', async () => {
		const triggers = [];
		for (let i = 0; i < 5; i++) triggers.push(await kurierTrigger({ event: 'allJobs' }));
		expect(kurier.openConnectionCount(KEY)).toBe(1);
		for (const trigger of triggers) await trigger.deactivate();
		await eventually(() => expect(kurier.openConnectionCount()).toBe(0));
		expect(sharedSockets.size).toBe(0);
		await eventually(() => expect(activeTimerCount()).toBeLessThanOrEqual(timersBefore));
	});

	test('a socket whose first attempt fails leaves the pool: every trigger waiting on it hears the failure, none keeps a socket retrying', async () => {
		const port = kurier.port;
		await kurier.close();
		const client = new KurierApiClient({ restBaseUrl: `http://127.0.0.1:${port}/api/v1`, apiKey: KEY });
		const backoff = { initialMs: 50, maxMs: 100 };
		const streams = [0, 1].map(() => new KurierJobStream({ client, target: { kind: 'allJobs' }, onItem: () => undefined, onFatal: () => undefined, backoff }));
		try {
			const failures = await Promise.all(streams.map(async (stream) => await stream.start().catch((error: unknown) => error as Error)));
			for (const failure of failures) expect((failure as Error).message).toMatch(/Could not connect to ws:\/\/127\.0\.0\.1:\d+\/api\/v1\/ws\?apiKey=\[redacted\]/);
			expect(sharedSockets.size).toBe(0);
		} finally {
			for (const stream of streams) await stream.close();
			kurier = await KurierEmulator.start({ apiKeys: [KEY] });
		}
		expect(sharedSockets.size).toBe(0);
	});
});

describe('Tachyon: one socket per WebSocket key', () => {
	test('three triggers with their own filters share 1 socket; each keeps its own; one leaving changes nothing; the last out closes it', async () => {
		const everything = await tachyonTrigger();
		const failures = await tachyonTrigger({ statuses: ['FAILED'] });
		const ok = tachyon.submit(TACHYON.apiKey, {});
		const bad = tachyon.submit(TACHYON.apiKey, { willFail: true });
		const onlyOk = await tachyonTrigger({ txIds: ok.id });
		expect(tachyon.openConnectionCount(TACHYON.wsKey)).toBe(1);
		expect(sharedSockets.size).toBe(1);

		tachyon.advanceToEnd(bad.id);
		await failures.waitForItems(1);
		expect(failures.items().map((item) => [item.id, item.status])).toEqual([[bad.id, 'FAILED']]);

		await eventually(() => expect(idsOf(everything).sort()).toEqual([ok.id, bad.id].sort()));
		await everything.deactivate();
		const heardBeforeLeaving = everything.items().length;
		tachyon.advanceToEnd(ok.id);
		await eventually(() => expect(statusesOf(onlyOk).at(-1)).toBe('EXECUTED'));
		expect(idsOf(onlyOk)).toEqual([ok.id]);
		expect(everything.items()).toHaveLength(heardBeforeLeaving);
		expect(tachyon.openConnectionCount(TACHYON.wsKey)).toBe(1);

		await failures.deactivate();
		await onlyOk.deactivate();
		await eventually(() => expect(tachyon.openConnectionCount()).toBe(0));
		expect(sharedSockets.size).toBe(0);
	});

	test('a WebSocket key revoked while shared: every trigger hears it once', async () => {
		const triggers = [await tachyonTrigger(), await tachyonTrigger({ statuses: ['FAILED'] })];
		tachyon.revokeWsKey(TACHYON.wsKey);
		for (const trigger of triggers) expect((await trigger.waitForError()).message).toMatch(/refused/i);
		const attempts = tachyon.stats.connectionsAccepted + tachyon.stats.connectionsRefused;
		// One error each, no reconnect attempt (accepted or refused).
		await staysTrue(() => {
			expect(triggers.map((trigger) => trigger.errors.length)).toEqual([1, 1]);
			expect(tachyon.stats.connectionsAccepted + tachyon.stats.connectionsRefused).toBe(attempts);
			expect(sharedSockets.size).toBe(0);
		});
	});
});
