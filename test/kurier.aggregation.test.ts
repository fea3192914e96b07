/**
 * Jobs with a destination chain, in n8n's engine against the Kurier emulator over real sockets:
 * - Kurier's blog says a subscription is cleaned up at Finalized; with `subscriptionEndsAtFinalized`
 *   the emulator stops telling any socket about a chain job after Finalized, and the trigger and
 *   Wait for Job must still deliver Aggregated (they follow the job over REST);
 * - `submissionMode: direct` gets no aggregation, so with a chainId Finalized is final.
 */
import type { NodeOperationError } from 'n8n-workflow';

import { KurierEmulator } from '../emulators/kurier';
import { Kurier } from '../nodes/Kurier/Kurier.node';
import { KurierApiClient } from '../nodes/Kurier/KurierApiClient';
import { KurierJobStream } from '../nodes/Kurier/KurierJobStream';
import { KurierRestFollower } from '../nodes/Kurier/KurierRestFollower';
import { isKurierFinal, needsRestFollowUp, normalizeKurierJob } from '../nodes/Kurier/protocol';
import type { NormalizedItem } from '../nodes/shared/NormalizedItem';
import { runManually } from './helpers/n8nEngine';
import { activeTimerCount, eventually, staysTrue } from './helpers/wait';
import { TestScope } from './helpers/testScope';
import { emulatorPerTest } from './helpers/emulatorPerTest';
import { kurierCredentials, kurierTriggerSubject } from './helpers/kurier';

const scope = new TestScope();
const { later } = scope;

const KEY = 'kurier-aggregation-key-6c3d';
/**
 * The REST follow-up reads a job 1 s after it is due, then 2 s later: a follow-up wrongly kept
 * going after Aggregated would read within this, which the shorter quiet period could miss.
 */
const LONGER_THAN_THE_SECOND_FOLLOW_UP_MS = 2_500;
let emulator: KurierEmulator;

const activate = scope.activator((parameters: Record<string, unknown>) => kurierTriggerSubject(emulator, KEY, parameters));

async function run(parameters: Record<string, unknown>) {
	return await runManually({ nodeType: new Kurier(), parameters: parameters as never, credentials: kurierCredentials(emulator, KEY) }, [{ json: {} }]);
}

const statusesOf = (items: Array<Record<string, unknown>>, id: string) => items.filter((i) => i.id === id).map((i) => i.status);

emulatorPerTest({
	scope,
	start: async () => (emulator = await KurierEmulator.start({ apiKeys: [KEY], subscriptionEndsAtFinalized: true })),
	close: async () => await emulator.close(),
	secrets: [KEY],
	clearEngineLogs: true,
});

describe('protocol', () => {
	test('Finalized is final without a chain, or with one when the submission was direct', () => {
		expect(isKurierFinal('Finalized', null)).toBe(true);
		expect(isKurierFinal('Finalized', 84532)).toBe(false);
		expect(isKurierFinal('Finalized', 84532, 'direct')).toBe(true);
		expect(isKurierFinal('Finalized', 84532, 'attestation')).toBe(false);
		expect(needsRestFollowUp('Finalized', 84532)).toBe(true);
		expect(needsRestFollowUp('AggregationPending', 84532)).toBe(true);
		expect(needsRestFollowUp('Finalized', 84532, 'direct')).toBe(false);
		expect(needsRestFollowUp('IncludedInBlock', 84532)).toBe(false);
		const job = { jobId: 'a', status: 'Finalized', chainId: 84532 };
		expect(normalizeKurierJob(job, new Date().toISOString()).isFinal).toBe(false);
		expect(normalizeKurierJob(job, new Date().toISOString(), 'direct').isFinal).toBe(true);
		expect(normalizeKurierJob({ ...job, submissionMode: 'direct' }, new Date().toISOString(), 'attestation').isFinal).toBe(true);
	});

	test('the REST follower backs off, stops when told, gives up after its bound, and leaves no timer', async () => {
		const timersBefore = activeTimerCount();
		const polls: string[][] = [];
		const gaveUp: string[] = [];
		const follower = new KurierRestFollower({
			initialDelayMs: 20,
			maxDelayMs: 40,
			maxFollowMs: 250,
			poll: async (ids) => {
				polls.push(ids);
			},
			onGiveUp: (id) => gaveUp.push(id),
		});
		follower.follow('a');
		follower.follow('a');
		follower.follow('b');
		await eventually(() => expect(polls.length).toBeGreaterThanOrEqual(2));
		expect(polls[0].sort()).toEqual(['a', 'b']);
		follower.forget('b');
		await eventually(() => expect(gaveUp).toEqual(['a']), 2000);
		expect(follower.size).toBe(0);
		const count = polls.length;
		await staysTrue(() => expect(polls.length).toBe(count));
		follower.follow('c');
		follower.close();
		follower.follow('d');
		expect(follower.size).toBe(0);
		expect(activeTimerCount()).toBeLessThanOrEqual(timersBefore);
	});
});

describe('the socket goes quiet after Finalized (subscription cleaned up)', () => {
	test('the emulator drops the job at Finalized for per-job and subscribe-all sockets; REST goes on', async () => {
		const items: NormalizedItem[] = [];
		const job = emulator.createJob(KEY, { chainId: 84532 });
		const stream = new KurierJobStream({
			client: new KurierApiClient({ restBaseUrl: emulator.restBaseUrl, apiKey: KEY }),
			target: { kind: 'allJobs' },
			// No follow-up within this test: what the socket alone says.
			restFollow: { initialDelayMs: 60_000 },
			onItem: (item) => items.push(item),
			onFatal: (error) => {
				throw error;
			},
		});
		await stream.start();
		emulator.advanceToEnd(job.jobId);
		expect(emulator.getJob(job.jobId)?.status).toBe('Aggregated');
		await eventually(() => expect(items.map((i) => i.status)).toContain('Finalized'));
		await staysTrue(() => expect(items.map((i) => i.status)).toEqual(['Valid', 'Submitted', 'IncludedInBlock', 'Finalized']));
		await stream.close();
	});

	test('One Job trigger: Finalized (not final), then Aggregated from the REST follow-up, then the socket is freed', async () => {
		const job = emulator.createJob(KEY, { proofType: 'ultrahonk', chainId: 84532 });
		const trigger = await activate({ event: 'job', jobId: job.jobId, statuses: [] });
		await trigger.waitForItems(1);
		emulator.advanceToEnd(job.jobId);
		const items = await trigger.waitForItems(6, 8000);
		// Nothing after Aggregated (the awaited items are a snapshot: read the trigger's own list).
		await staysTrue(() => expect(trigger.items().map((i) => i.status)).toEqual(['Queued', 'Valid', 'Submitted', 'IncludedInBlock', 'Finalized', 'Aggregated']));
		expect(items[4]).toMatchObject({ status: 'Finalized', isFinal: false, chainId: 84532 });
		expect(items[5]).toMatchObject({ status: 'Aggregated', isFinal: true, phase: 'succeeded', chainId: 84532 });
		expect((items[5].details as Record<string, unknown>).aggregationDetails).toBeDefined();
		await eventually(() => expect(emulator.openConnectionCount()).toBe(0));
		expect(trigger.errors).toEqual([]);
	}, 15_000);

	test('Wait for Job returns Aggregated even though the socket never says so (REST poll interval far away)', async () => {
		const job = emulator.createJob(KEY, { chainId: 84532 });
		later(150, () => emulator.advanceToEnd(job.jobId));
		const timersBefore = activeTimerCount();
		const result = await run({ operation: 'waitForJob', jobId: job.jobId, timeoutSeconds: 10, options: { pollIntervalSeconds: 60 } });
		expect(result.error).toBeUndefined();
		expect(result.items).toEqual([expect.objectContaining({ id: job.jobId, status: 'Aggregated', isFinal: true })]);
		await eventually(() => expect(emulator.openConnectionCount()).toBe(0));
		await eventually(() => expect(activeTimerCount()).toBeLessThanOrEqual(timersBefore));
	}, 15_000);

	test('All Jobs: chain jobs past Finalized are followed over REST until Aggregated; others are not asked', async () => {
		const trigger = await activate({ event: 'allJobs', statuses: [] });
		const chained = emulator.createJob(KEY, { chainId: 84532 });
		const plain = emulator.createJob(KEY);
		emulator.advanceToEnd(plain.jobId);
		await eventually(() => expect(statusesOf(trigger.items(), plain.jobId)).toHaveLength(5));
		const restBefore = emulator.stats.restRequests;
		emulator.advanceToEnd(chained.jobId);
		await eventually(() => expect(statusesOf(trigger.items(), chained.jobId)).toEqual(['Queued', 'Valid', 'Submitted', 'IncludedInBlock', 'Finalized', 'Aggregated']), 8000);
		// One read (the follow-up) found it: no poll for the plain job, none after Aggregated.
		expect(emulator.stats.restRequests - restBefore).toBe(1);
		await staysTrue(() => expect(emulator.stats.restRequests - restBefore).toBe(1), LONGER_THAN_THE_SECOND_FOLLOW_UP_MS);
		expect(trigger.errors).toEqual([]);
	}, 15_000);
});

describe('submissionMode: direct (no aggregation)', () => {
	test('Submit Proof sends it and outputs it with the chain id; the emulator ends the job at Finalized', async () => {
		const result = await run({
			operation: 'submitProof',
			proofType: 'groth16',
			proofOptions: '{}',
			inputSource: 'json',
			vkMode: 'inline',
			proof: '{"pi_a":["1"]}',
			publicSignals: '["1"]',
			vk: '{"nPublic":1}',
			options: { chainId: 84532, submissionMode: 'direct' },
		});
		expect(result.error).toBeUndefined();
		expect(result.items[0]).toMatchObject({ optimisticVerify: 'success', chainId: 84532, submissionMode: 'direct' });
		const jobId = result.items[0].jobId as string;
		expect(emulator.advanceToEnd(jobId)).toMatchObject({ status: 'Finalized', chainId: 84532 });
	});

	test('Wait for Job with Submission Mode "Direct" ends at Finalized instead of running to its timeout', async () => {
		const job = emulator.createJob(KEY, { chainId: 84532, submissionMode: 'direct' });
		later(100, () => emulator.advanceToEnd(job.jobId));
		const started = Date.now();
		const result = await run({ operation: 'waitForJob', jobId: job.jobId, timeoutSeconds: 20, options: { pollIntervalSeconds: 60, jobSubmissionMode: 'direct' } });
		expect(result.error).toBeUndefined();
		expect(result.items[0]).toMatchObject({ status: 'Finalized', isFinal: true, chainId: 84532 });
		expect(Date.now() - started).toBeLessThan(5000);
		await eventually(() => expect(emulator.openConnectionCount()).toBe(0));
	});

	test('without the option it waits on (the job does not say), and times out naming Finalized', async () => {
		const job = emulator.createJob(KEY, { chainId: 84532, submissionMode: 'direct' });
		emulator.advanceToEnd(job.jobId);
		const result = await run({ operation: 'waitForJob', jobId: job.jobId, timeoutSeconds: 1, options: { pollIntervalSeconds: 60 } });
		expect(result.error?.message).toBe(`Kurier job ${job.jobId} was not final after 1 s (its last status was Finalized)`);
		expect((result.error as NodeOperationError | undefined)?.description).toMatch(/Raise "Timeout/);
	});

	test('where the job status carries submissionMode, "From the Job" and the triggers read it', async () => {
		emulator.setReportSubmissionMode(true);
		const job = emulator.createJob(KEY, { chainId: 84532, submissionMode: 'direct' });
		const trigger = await activate({ event: 'job', jobId: job.jobId, statuses: [] });
		later(100, () => emulator.advanceToEnd(job.jobId));
		const waited = await run({ operation: 'waitForJob', jobId: job.jobId, timeoutSeconds: 10, options: { pollIntervalSeconds: 60 } });
		expect(waited.items[0]).toMatchObject({ status: 'Finalized', isFinal: true, details: expect.objectContaining({ submissionMode: 'direct' }) });
		const items = await trigger.waitForItems(5);
		expect(items[4]).toMatchObject({ status: 'Finalized', isFinal: true });
		// Final: the One Job trigger frees its socket, and follows nothing over REST.
		await eventually(() => expect(emulator.openConnectionCount()).toBe(0));
	});
});
