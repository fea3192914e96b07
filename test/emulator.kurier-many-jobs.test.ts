import WebSocket from 'ws';
import { KurierEmulator } from '../emulators/kurier';
import type { KurierEmulatorOptions } from '../emulators/kurier';
import { activeTimerCount, eventually } from './helpers/wait';

/** What benches with many open jobs use: listing order and filters, bulk creation and moves, coverage. */

const KEY = 'kurier-test-key';
const OTHER_KEY = 'other-key';
type Json = Record<string, any>;

let emulator: KurierEmulator;
let sockets: WebSocket[] = [];

async function startEmulator(options: KurierEmulatorOptions = {}): Promise<void> {
	emulator = await KurierEmulator.start({ apiKeys: [KEY, OTHER_KEY], jobListing: 'on', ...options });
}

async function rest(path: string): Promise<{ status: number; json: Json }> {
	const response = await fetch(`${emulator.restBaseUrl}${path}`);
	return { status: response.status, json: (await response.json()) as Json };
}

async function listedIds(query: string): Promise<string[]> {
	const { status, json } = await rest(`/jobs?apiKey=${KEY}&${query}`);
	expect(status).toBe(200);
	return json.jobs.map((job: Json) => job.jobId);
}

/** A subscribe-all socket of KEY and the job-status frames it receives, in order. */
async function subscribeAll(): Promise<Json[]> {
	const socket = new WebSocket(`${emulator.wsUrl}?apiKey=${KEY}`);
	sockets.push(socket);
	const frames: Json[] = [];
	let subscribed!: () => void;
	const ready = new Promise<void>((resolve) => (subscribed = resolve));
	socket.on('message', (data) => {
		const frame = JSON.parse(String(data)) as Json;
		if (frame.type === 'connected') socket.send(JSON.stringify({ type: 'subscribe-all' }));
		if (frame.type === 'subscribed-all') subscribed();
		if (frame.type === 'job-status-update') frames.push(frame.data);
	});
	await ready;
	return frames;
}

beforeEach(() => startEmulator());
afterEach(async () => {
	for (const socket of sockets) socket.terminate();
	sockets = [];
	await emulator.close();
});

describe('GET /jobs sorting and updatedAfter', () => {
	it('sorts by createdAt or updatedAt, ascending or descending, and keeps jobs updated strictly after a moment', async () => {
		const [a, b, c] = [emulator.createJob(KEY), emulator.createJob(KEY), emulator.createJob(KEY)];
		emulator.createJob(OTHER_KEY);
		// Wait for the clock to pass the creations, so that every later update is strictly after them.
		await eventually(() => expect(Date.now()).toBeGreaterThan(Date.parse(c.createdAt)));
		const updatedA = emulator.advance(a.jobId);
		const updatedB = emulator.advance(b.jobId);
		expect(Date.parse(updatedA.updatedAt)).toBeGreaterThan(Date.parse(a.updatedAt));

		// Same-millisecond jobs keep their creation order (reversed with desc), so the order is exact.
		expect(await listedIds('')).toEqual([a.jobId, b.jobId, c.jobId]);
		expect(await listedIds('sortOrder=desc')).toEqual([c.jobId, b.jobId, a.jobId]);
		expect(await listedIds('sortBy=updatedAt')).toEqual([c.jobId, a.jobId, b.jobId]);
		expect(await listedIds('sortBy=updatedAt&sortOrder=desc')).toEqual([b.jobId, a.jobId, c.jobId]);
		expect(await listedIds(`updatedAfter=${encodeURIComponent(c.createdAt)}&sortBy=updatedAt`)).toEqual([a.jobId, b.jobId]);
		expect(await listedIds(`updatedAfter=${encodeURIComponent(updatedB.updatedAt)}`)).toEqual([]);
		const page = await rest(`/jobs?apiKey=${KEY}&sortBy=updatedAt&sortOrder=desc&pageSize=1&page=2`);
		expect(page.json).toEqual({ jobs: [expect.objectContaining({ jobId: a.jobId, status: 'Valid' })], page: 2, pageSize: 1, total: 3 });

		expect(await rest(`/jobs?apiKey=${KEY}&sortBy=label`)).toMatchObject({ status: 400, json: { code: 'VALIDATION_ERROR' } });
		expect(await rest(`/jobs?apiKey=${KEY}&sortOrder=up`)).toMatchObject({ status: 400, json: { code: 'VALIDATION_ERROR' } });
	});

	it('moves updatedAt with every auto-step', async () => {
		await emulator.close();
		await startEmulator({ stepMs: 5 });
		const [jobId] = emulator.createJobs(KEY, 1);
		await eventually(() => expect(emulator.getJob(jobId)?.status).toBe('Finalized'));
		const finalJob = emulator.getJob(jobId)!;
		// Four steps from Queued, each at least a millisecond after the one before.
		expect(Date.parse(finalJob.updatedAt)).toBeGreaterThanOrEqual(Date.parse(finalJob.createdAt) + 4);
		expect(await listedIds(`updatedAfter=${encodeURIComponent(finalJob.createdAt)}`)).toEqual([jobId]);
	});
});

describe('createJobs, advanceMany and coverage', () => {
	it('creates 10,000 jobs at once without frames or timers, each at the asked status; pages stay at most 100', async () => {
		const frames = await subscribeAll();
		const timersBefore = activeTimerCount();
		const queued = emulator.createJobs(KEY, 10_000);
		expect(queued).toHaveLength(10_000);
		expect(new Set(queued).size).toBe(10_000);
		expect(activeTimerCount()).toBe(timersBefore);
		expect(emulator.getJob(queued[9_999])).toMatchObject({ status: 'Queued', chainId: null });

		const [included] = emulator.createJobs(KEY, 1, { status: 'IncludedInBlock' });
		expect(emulator.getJob(included)).toMatchObject({ status: 'IncludedInBlock', statusId: 3, txHash: expect.stringMatching(/^0x/) });
		const [aggregated] = emulator.createJobs(KEY, 1, { status: 'Aggregated', chainId: 84532 });
		expect(emulator.getJob(aggregated)).toMatchObject({ status: 'Aggregated', chainId: 84532, aggregationId: expect.any(Number) });
		const [failed] = emulator.createJobs(KEY, 1, { status: 'Failed' });
		expect(emulator.getJob(failed)).toMatchObject({ status: 'Failed', errorDetails: expect.anything() });
		expect(() => emulator.createJobs(KEY, 1, { status: 'Aggregated' })).toThrow(/not in the sequence/);
		expect(() => emulator.createJobs('unknown-key', 1)).toThrow(/unknown API key/);

		const page = await rest(`/jobs?apiKey=${KEY}&pageSize=500&status=Queued&sortOrder=desc`);
		expect(page.json).toMatchObject({ page: 1, pageSize: 100, total: 10_000 });
		expect(page.json.jobs).toHaveLength(100);
		expect(page.json.jobs[0].jobId).toBe(queued[9_999]);

		// Frames keep their order: the first one a subscriber hears is the announced job's, not a bulk one.
		const announced = emulator.createJob(KEY);
		await eventually(() => expect(frames.length).toBeGreaterThan(0));
		expect(frames[0].jobId).toBe(announced.jobId);
	});

	it('advanceMany moves every job one status, silently on request', async () => {
		const frames = await subscribeAll();
		const ids = emulator.createJobs(KEY, 3);
		emulator.advanceMany(ids, { silent: true });
		expect(ids.map((id) => emulator.getJob(id)?.status)).toEqual(['Valid', 'Valid', 'Valid']);
		emulator.advanceMany([ids[2]]);
		await eventually(() => expect(frames).toHaveLength(1));
		expect(frames[0]).toMatchObject({ jobId: ids[2], status: 'Submitted' });
		expect(() => emulator.advanceMany(['no-such-job'])).toThrow(/unknown job/);
	});

	it('coveredJobIds holds the ids answered by job-status reads and listing pages since startCoverage', async () => {
		const ids = emulator.createJobs(KEY, 5);
		const [othersJob] = emulator.createJobs(OTHER_KEY, 1);
		await rest(`/job-status/${KEY}/${ids[0]}`);
		expect(emulator.coveredJobIds().size).toBe(0);

		emulator.startCoverage();
		expect((await rest(`/job-status/${KEY}/${ids[1]}`)).status).toBe(200);
		expect((await rest(`/job-status/${KEY}/${othersJob}`)).status).toBe(404);
		await rest(`/jobs?apiKey=${KEY}&pageSize=2&page=2`);
		expect([...emulator.coveredJobIds()].sort()).toEqual([ids[1], ids[2], ids[3]].sort());

		emulator.startCoverage();
		expect(emulator.coveredJobIds().size).toBe(0);
		await rest(`/jobs?apiKey=${KEY}&sortOrder=desc&pageSize=1`);
		expect([...emulator.coveredJobIds()]).toEqual([ids[4]]);
	});
});
