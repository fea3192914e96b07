/**
 * Kurier under chaos: All Jobs mode against the emulator's fault injection, at volume.
 * The forced-disconnect run drives the stream class itself (the trigger's parameters cannot shorten
 * keep-alive and backoff to chaos speed); everything else runs the Kurier Trigger in n8n's engine.
 */
import type { IDataObject } from 'n8n-workflow';

import { KURIER_STATUS_SEQUENCE_NO_CHAIN, KurierEmulator } from '../../emulators/kurier';
import { KurierApiClient, resolveKurierConnection } from '../../nodes/Kurier/KurierApiClient';
import { KurierJobStream } from '../../nodes/Kurier/KurierJobStream';
import { CapturingLogger } from '../helpers/logs';
import { activateTrigger, engineLogs } from '../helpers/n8nEngine';
import { kurierTriggerSubject } from '../helpers/kurier';
import { until, withGenerousRestBudget } from './helpers/chaos';
import { deliveryRows, expectCleanDelivery } from './helpers/delivery';
import { CHAOS_STREAM_TIMING, DISCONNECTS, disconnectRows, expectDisconnectRun, runForcedDisconnects } from './helpers/disconnects';
import { TransitionDriver, sequencePlan } from './helpers/driver';
import { FollowedTrigger } from './helpers/engine';
import { expectBadFramesSkipped, expectNoLeaksOverCycles, expectOneErrorNoStorm, expectSeamlessLifetimeCloses } from './helpers/scenarios';
import { Ledger } from './helpers/ledger';
import { ChaosReport } from './helpers/report';

const API_KEY = 'kurier-chaos-key-5d0b6e29a1';
const report = new ChaosReport('Kurier');
const FAILING_SEQUENCE = ['Queued', 'Valid', 'Failed'];

let emulator: KurierEmulator;

beforeEach(async () => {
	emulator = await KurierEmulator.start({ apiKeys: [API_KEY], jobListing: 'on' });
	engineLogs.clear();
});

afterEach(async () => {
	await emulator.close();
});

/** Jobs on the emulator, each status written to the ledger with its place in the job's sequence. */
const jobs = sequencePlan(
	(willFail) => ({ id: emulator.createJob(API_KEY, { willFail }).jobId, key: 'Queued', sequence: willFail ? FAILING_SEQUENCE : KURIER_STATUS_SEQUENCE_NO_CHAIN }),
	(jobId) => emulator.advance(jobId).status,
);

test('10,000 transitions across 100 forced disconnects of every kind: 0 lost, 0 duplicated, in order per job', async () => {
	const ledger = new Ledger(true);
	const driver = new TransitionDriver(jobs, ledger);
	const logger = new CapturingLogger();
	const fatals: Error[] = [];
	const client = withGenerousRestBudget(new KurierApiClient(resolveKurierConnection({ environment: 'custom', baseUrl: emulator.restBaseUrl, apiKey: API_KEY })));
	const stream = new KurierJobStream({
		client,
		target: { kind: 'allJobs' },
		onItem: (item) => ledger.deliver(item.id, item.status),
		onFatal: (error) => fatals.push(error),
		logger,
		...CHAOS_STREAM_TIMING,
		keepAlive: { ...CHAOS_STREAM_TIMING.keepAlive, pingFrame: { type: 'ping' } },
	});
	const run = await runForcedDisconnects({
		emulator,
		driver,
		stream,
		// Back once connected and subscribed again.
		watchReconnect: () => {
			const subscribesBefore = emulator.stats.subscribeMessages;
			return () => emulator.openConnectionCount(API_KEY) >= 1 && emulator.stats.subscribeMessages > subscribesBefore;
		},
		newIdsWhileCutOff: true,
	});

	const figures = ledger.figures();
	report.record('forced disconnects (stream class, All Jobs)', {
		...disconnectRows(run, figures, { ids: 'jobs (10% failing)', unfinished: 'jobs without their final status' }),
		'fatal errors': fatals.length,
		"'connection lost' warnings (one per disconnect)": logger.messages('warn').filter((m) => m.includes('lost')).length,
		seconds: run.seconds,
	});
	expectDisconnectRun(run, figures, { fatals });
	// At least one reconnect per fault.
	expect(run.connectionsAccepted).toBeGreaterThanOrEqual(DISCONNECTS + 1);
});

// ----- in n8n's engine: the Kurier Trigger, All Jobs -----------------------------------------

const ALL_JOBS = { event: 'allJobs', statuses: [] };

/** The Kurier Trigger on All Jobs, followed with a new ledger; `window`: jobs moving at once. */
async function followTrigger(collapseAllowed: boolean, window: number): Promise<FollowedTrigger> {
	const ledger = new Ledger(collapseAllowed);
	const trigger = await activateTrigger(kurierTriggerSubject(emulator, API_KEY, ALL_JOBS));
	return new FollowedTrigger(trigger, emulator, new TransitionDriver(jobs, ledger, window), (item: IDataObject) => String(item.status));
}

const wronglyTyped = () => ({
	text: JSON.stringify({ type: 'job-status-update', data: { jobId: 42, status: ['Finalized'], statusId: 'four' } }),
	// Kurier's line names the frame's type and the field, not its content.
	marker: null,
});

test('1,000 malformed, oversized, unknown-type and wrongly-typed frames: no crash, each logged once and skipped, good frames still delivered', async () => {
	const followed = await followTrigger(false, 10);
	await expectBadFramesSkipped(report, 'bad frames (n8n engine)', followed, { wronglyTyped }, {
		badFrameLine: /Skipped a frame that is not JSON|Kurier: skipped a /,
		wronglyTypedLine: /frame of type "job-status-update"/,
	});
});

test('a rate-limit error frame (retryAfterSeconds) is honoured: the subscription is sent again no sooner', async () => {
	const RETRY_AFTER_SECONDS = 1;
	emulator.rateLimitNextSubscribes(1, RETRY_AFTER_SECONDS);
	const subscribeTimes: number[] = [];
	const watch = setInterval(() => {
		while (subscribeTimes.length < emulator.stats.subscribeMessages) subscribeTimes.push(Date.now());
	}, 1);
	const followed = await followTrigger(false, 5);
	await followed.runThenDeactivate(async () => {
		await until(() => subscribeTimes.length >= 2, 5_000, 1);
		followed.driver.steps(100);
		await followed.finish();
	}).finally(() => clearInterval(watch));
	const waitedMs = subscribeTimes[1] - subscribeTimes[0];
	const figures = followed.ledger.figures();
	report.record('rate limit (n8n engine)', {
		'retryAfterSeconds asked': RETRY_AFTER_SECONDS,
		'subscribe sent again after (ms)': waitedMs,
		'subscribe messages': emulator.stats.subscribeMessages,
		...deliveryRows(figures, 'transitions after it'),
		'errors emitted': followed.trigger.errors.length,
	});
	// The poll samples every ms: allow it that much.
	expect(waitedMs).toBeGreaterThanOrEqual(RETRY_AFTER_SECONDS * 1000 - 5);
	expect(emulator.stats.subscribeMessages).toBe(2);
	expect(followed.settled).toBe(true);
	expectCleanDelivery(figures);
	expect(followed.trigger.errors).toEqual([]);
});

test('the server closing at its maximum connection lifetime: seamless reconnect, nothing lost, no error', async () => {
	const followed = await followTrigger(true, 10);
	const expiries = [{}, { errorFrame: true }] as const;
	await expectSeamlessLifetimeCloses(report, 'max connection lifetime (n8n engine)', followed, {
		closes: expiries.map((expiry) => () => emulator.expireConnections(expiry)),
		label: '1008 reason; error frame + 1008',
		before: () => followed.driver.steps(100),
		// Jobs go on (and new ones come) while the trigger reconnects after its backoff.
		during: () => followed.driver.steps(50),
	});
});

test('a key revoked mid-life: one clear error, no reconnect storm', async () => {
	const followed = await followTrigger(false, 5);
	await expectOneErrorNoStorm(report, 'key revoked mid-life (n8n engine)', followed, () => followed.driver.steps(50), {
		revoke: () => emulator.revokeKey(API_KEY),
		learnedOnReconnect: false,
		message: /refused the credentials/,
		secret: API_KEY,
	});
});

test('1,000 activate/deactivate cycles: no open handles, no sockets left, a flat heap', async () => {
	const subject = kurierTriggerSubject(emulator, API_KEY, ALL_JOBS);
	await expectNoLeaksOverCycles(report, emulator, async () => await activateTrigger(subject));
});
