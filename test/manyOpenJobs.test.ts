/**
 * Many open jobs (All Jobs): the catch-up after a stop or a drop reads what moved, not every open
 * job one by one, where Kurier's `GET /jobs` lists jobs by update; without the listing each open job
 * is read once, the newest first; a 429 storm loses no read and repeats none; and while the socket
 * is healthy the REST check reads only jobs quiet longer than their status normally lasts.
 */
import type { IDataObject } from 'n8n-workflow';

import { KurierEmulator } from '../emulators/kurier';
import { kurierTriggerSubject } from './helpers/kurier';
import { countOutgoingRequests } from './helpers/outgoing';
import { TestScope } from './helpers/testScope';
import { eventually, staysTrue } from './helpers/wait';

const apiKey = 'many-open-jobs-key';
const ids = { workflow: 'wf-many-open', node: 'node-many-open' };
const scope = new TestScope();
let emulator: KurierEmulator;
beforeEach(async () => (emulator = await KurierEmulator.start({ apiKeys: [apiKey] })));
afterEach(async () => {
	await scope.end();
	await emulator.close();
});

const allJobs = (staticData: IDataObject, activation: 'init' | 'activate', options: IDataObject = {}) => ({
	...kurierTriggerSubject(emulator, apiKey, { event: 'allJobs', statuses: [], options }, staticData),
	ids,
	activation,
});

/** The job ids this process asks Kurier's job-status route for, in the order asked. */
function recordJobStatusReads(): { readonly ids: string[]; stop(): void } {
	const requests = countOutgoingRequests();
	return {
		get ids() {
			return requests.paths.flatMap((path) => {
				const match = /\/job-status\/[^/]+\/([^/?]+)/.exec(path);
				return match ? [decodeURIComponent(match[1])] : [];
			});
		},
		stop: () => requests.stop(),
	};
}

/** An activation that saw `count` jobs created, then stopped (the jobs left open): its static data. */
async function openJobsThenStop(count: number): Promise<{ staticData: IDataObject; jobIds: string[] }> {
	const staticData: IDataObject = {};
	const first = await scope.activate(allJobs(staticData, 'activate'));
	const jobIds = Array.from({ length: count }, () => emulator.createJob(apiKey).jobId);
	await first.waitForItems(count);
	await first.deactivate();
	return { staticData, jobIds };
}

const statusOf = (items: IDataObject[], id: string) => items.filter((item) => item.id === id).map((item) => item.status);

test('after n8n was down, All Jobs lists what was updated meanwhile: new jobs and moved ones arrive; the others are not read one by one', async () => {
	emulator.setJobListing('on');
	const { staticData, jobIds } = await openJobsThenStop(30);
	// While n8n is down: five jobs move; four are created, two of them finish.
	const moved = jobIds.slice(0, 5);
	for (const id of moved) emulator.advance(id);
	const created = Array.from({ length: 4 }, () => emulator.createJob(apiKey, { chainId: null }).jobId);
	for (const id of created.slice(0, 2)) emulator.advanceToEnd(id);
	const reads = recordJobStatusReads();
	try {
		const restarted = await scope.activate(allJobs(staticData, 'init'));
		// n8n 2.x starting also offers again the last 20 transitions handed before the stop (crashTail.test.ts): set apart here.
		const offeredAgain = jobIds.slice(-20).filter((id) => !moved.includes(id));
		const news = () => restarted.items().filter((item) => !(offeredAgain.includes(String(item.id)) && item.status === 'Queued'));
		await eventually(() => expect(news()).toHaveLength(9));
		for (const id of moved) expect(statusOf(restarted.items(), id)).toEqual(['Valid']);
		expect(created.map((id) => statusOf(restarted.items(), id))).toEqual([['Finalized'], ['Finalized'], ['Queued'], ['Queued']]);
		await staysTrue(() => expect(news()).toHaveLength(9));
		// Only the last transitions handed before the stop are read again (n8n 2.x's crash tail); the ten oldest open jobs, unmoved, never.
		expect(reads.ids.filter((id) => jobIds.slice(0, 10).includes(id) && !moved.includes(id))).toEqual([]);
		expect(emulator.stats.jobListRequests).toBeGreaterThanOrEqual(1);
	} finally {
		reads.stop();
	}
});

test('without the listing, every open job is read once after the stop, the newest first', async () => {
	const { staticData, jobIds } = await openJobsThenStop(60);
	emulator.advance(jobIds[0]);
	emulator.advance(jobIds[59]);
	const reads = recordJobStatusReads();
	try {
		const restarted = await scope.activate(allJobs(staticData, 'activate'));
		await restarted.waitForItems(2);
		await eventually(() => expect(new Set(reads.ids).size).toBe(60));
		await staysTrue(() => expect(reads.ids).toHaveLength(60));
		// Read sixteen at a time: the first of them are the newest jobs.
		expect(jobIds.slice(-16)).toContain(reads.ids[0]);
		expect(jobIds.slice(0, 16)).not.toContain(reads.ids[0]);
		expect(restarted.items().map((item) => item.status)).toEqual(['Valid', 'Valid']);
	} finally {
		reads.stop();
	}
});

test('a 429 storm during the catch-up: every open job is read, none twice, and the moved ones arrive once', async () => {
	const { staticData, jobIds } = await openJobsThenStop(60);
	const moved = jobIds.filter((_id, index) => index % 10 === 0);
	for (const id of moved) emulator.advance(id);
	// Below the budget's first burst: 429s from the start, and again as the budget tries faster.
	emulator.setRestRateLimit({ perSecond: 6, retryAfterSeconds: 1 });
	const reads = recordJobStatusReads();
	try {
		const restarted = await scope.activate(allJobs(staticData, 'activate'));
		await restarted.waitForItems(moved.length, 30_000);
		await eventually(() => expect(emulator.stats.jobStatusReads).toBe(60), 30_000);
		expect(emulator.stats.rateLimited).toBeGreaterThan(0);
		await staysTrue(() => expect(emulator.stats.jobStatusReads).toBe(60));
		// Asked more often than answered only where a 429 came back: answered reads, one per job.
		expect(reads.ids.length).toBe(60 + emulator.stats.rateLimited);
		expect(new Set(reads.ids).size).toBe(60);
		expect(restarted.items().map((item) => item.id).sort()).toEqual([...moved].sort());
	} finally {
		reads.stop();
	}
});

test('with a healthy socket the REST check reads a job quiet longer than its status lasts, and not one in a long status', async () => {
	// 0.01 min: a check every 0.6 s (± a fifth). Valid lasts one check; AggregationPending twelve.
	const trigger = await scope.activate(allJobs({}, 'activate', { restCheckMinutes: 0.01 }));
	const quick = emulator.createJob(apiKey).jobId;
	const long = emulator.createJob(apiKey, { chainId: 84532 }).jobId;
	emulator.advance(quick);
	for (let step = 0; step < 5; step++) emulator.advance(long);
	await eventually(() => expect(statusOf(trigger.items(), long)).toContain('AggregationPending'));
	const reads = recordJobStatusReads();
	try {
		await eventually(() => expect(reads.ids.filter((id) => id === quick).length).toBeGreaterThanOrEqual(3), 10_000);
		expect(reads.ids.filter((id) => id === long)).toEqual([]);
	} finally {
		reads.stop();
	}
});

test("n8n's activation does not wait for the catch-up of many open jobs, and live frames flow while it runs", async () => {
	const { staticData } = await openJobsThenStop(200);
	const restarted = await scope.activate(allJobs(staticData, 'init'));
	// At 5 reads a second to start with, 200 reads take seconds: the activation came back long before.
	expect(emulator.stats.jobStatusReads).toBeLessThan(100);
	const live = emulator.createJob(apiKey).jobId;
	await eventually(() => expect(statusOf(restarted.items(), live)).toEqual(['Queued']));
	expect(emulator.stats.jobStatusReads).toBeLessThan(200);
	// Then each open job read once, after the last 20 handed before the stop were read again (crashTail.test.ts).
	await eventually(() => expect(emulator.stats.jobStatusReads).toBe(220), 60_000);
	await staysTrue(() => expect(emulator.stats.jobStatusReads).toBe(220));
});
