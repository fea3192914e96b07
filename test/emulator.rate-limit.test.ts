import WebSocket from 'ws';
import { AllfeatEmulator } from '../emulators/allfeat';
import { KurierEmulator } from '../emulators/kurier';
import { TachyonEmulator } from '../emulators/tachyon';
import { eventually } from './helpers/wait';

/**
 * The per-key REST rate limit every emulator shares (`restRateLimit` / `setRestRateLimit`): a bucket
 * of `perSecond` requests per key, 429 with `Retry-After` and the service's error body beyond it.
 * The limits here are small, so a refill is waited for with `eventually`, never a fixed sleep.
 */

interface Answer {
	status: number;
	retryAfter: string | null;
	text: string;
}

async function get(url: string, headers: Record<string, string> = {}): Promise<Answer> {
	const response = await fetch(url, { headers });
	return { status: response.status, retryAfter: response.headers.get('retry-after'), text: await response.text() };
}

async function statuses(count: number, read: () => Promise<Answer>): Promise<number[]> {
	const seen: number[] = [];
	for (let i = 0; i < count; i += 1) seen.push((await read()).status);
	return seen;
}

describe('Kurier REST rate limit', () => {
	const KEY = 'kurier-test-key';
	const OTHER_KEY = 'other-key';
	let emulator: KurierEmulator;
	let jobId: string;
	const readJob = (key = KEY) => get(`${emulator.restBaseUrl}/job-status/${key}/${jobId}`);

	beforeEach(async () => {
		emulator = await KurierEmulator.start({ apiKeys: [KEY, OTHER_KEY], jobListing: 'on', restRateLimit: { perSecond: 3 } });
		jobId = emulator.createJob(KEY).jobId;
	});
	afterEach(() => emulator.close());

	it('answers 429 with Retry-After and a Fastify "Too Many Requests" body once the burst is spent', async () => {
		expect(await statuses(3, () => readJob())).toEqual([200, 200, 200]);
		const refused = await readJob();
		expect(refused.status).toBe(429);
		expect(refused.retryAfter).toBe('1');
		expect(JSON.parse(refused.text)).toEqual({ statusCode: 429, code: 'FST_ERR_RATE_LIMIT', error: 'Too Many Requests', message: 'Rate limit exceeded, retry in 1 second' });
		// Listings count against the same key as status reads.
		expect((await get(`${emulator.restBaseUrl}/jobs?apiKey=${KEY}`)).status).toBe(429);
		expect(emulator.stats).toMatchObject({ rateLimited: 2, jobStatusReads: 3, jobListRequests: 0, restRequests: 5 });
	});

	it('refills the bucket over time, limits each key on its own and never the WebSocket', async () => {
		await statuses(3, () => readJob());
		expect((await readJob()).status).toBe(429);
		expect((await get(`${emulator.restBaseUrl}/job-status/${OTHER_KEY}/${jobId}`)).status).toBe(404);
		const socket = new WebSocket(`${emulator.wsUrl}?apiKey=${KEY}`);
		await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
		socket.terminate();
		await eventually(async () => expect((await readJob()).status).toBe(200), 5000, 50);
	});

	it('setRestRateLimit changes the Retry-After and null lifts the limit', async () => {
		emulator.setRestRateLimit({ perSecond: 1, retryAfterSeconds: 7 });
		expect((await readJob()).status).toBe(200);
		expect(await readJob()).toMatchObject({ status: 429, retryAfter: '7' });
		emulator.setRestRateLimit(null);
		expect(await statuses(10, () => readJob())).toEqual(Array(10).fill(200));
		expect(() => emulator.setRestRateLimit({ perSecond: 0 })).toThrow(RangeError);
		expect(() => emulator.setRestRateLimit({ perSecond: 1, retryAfterSeconds: 0.5 })).toThrow(RangeError);
	});

	it('is off by default', async () => {
		await emulator.close();
		emulator = await KurierEmulator.start({ apiKeys: [KEY] });
		jobId = emulator.createJob(KEY).jobId;
		expect(await statuses(20, () => readJob())).toEqual(Array(20).fill(200));
		expect(emulator.stats).toMatchObject({ rateLimited: 0, jobStatusReads: 20 });
	});
});

describe('Tachyon REST rate limit', () => {
	const KEY = 'tachyon-test-key';
	const OTHER_KEY = 'tachyon-other-key';
	let emulator: TachyonEmulator;
	let txId: string;
	const readTx = (key = KEY) => get(`${emulator.baseUrl}/api/tx?id=${txId}`, { 'api-key': key });

	beforeEach(async () => {
		emulator = await TachyonEmulator.start({
			accounts: [
				{ apiKey: KEY, dashboardJwt: 'jwt-1' },
				{ apiKey: OTHER_KEY, dashboardJwt: 'jwt-2' },
			],
		});
		txId = emulator.submit(KEY).id;
	});
	afterEach(() => emulator.close());

	it('answers 429 with Retry-After and the Tachyon envelope per api-key, refills, and lifts with null', async () => {
		emulator.setRestRateLimit({ perSecond: 2, retryAfterSeconds: 3 });
		expect(await statuses(2, () => readTx())).toEqual([200, 200]);
		const refused = await readTx();
		expect(refused.status).toBe(429);
		expect(refused.retryAfter).toBe('3');
		expect(JSON.parse(refused.text)).toMatchObject({ success: false, error: { code: 'RATE_LIMIT_EXCEEDED', category: 'RATE_LIMIT' } });
		expect((await readTx(OTHER_KEY)).status).toBe(404);
		expect(emulator.stats).toMatchObject({ rateLimited: 1, transactionReads: 3 });
		await eventually(async () => expect((await readTx()).status).toBe(200), 5000, 50);
		emulator.setRestRateLimit(null);
		expect(await statuses(10, () => readTx())).toEqual(Array(10).fill(200));
	});
});

describe('Allfeat REST rate limit', () => {
	const KEY = 'afo_sk_live_one';
	const OTHER_KEY = 'afo_sk_live_two';
	let emulator: AllfeatEmulator;
	let transactionId: string;
	const readTransaction = (key?: string) =>
		get(`${emulator.baseUrl}/v1/transactions/${transactionId}`, key === undefined ? {} : { authorization: `Bearer ${key}` });

	beforeEach(async () => {
		emulator = await AllfeatEmulator.start({ apiKeys: [KEY, OTHER_KEY], restRateLimit: { perSecond: 2 } });
		transactionId = emulator.createTransaction().id;
	});
	afterEach(() => emulator.close());

	it('answers 429 with Retry-After and the unified envelope per bearer; key-less reads share one bucket', async () => {
		expect(await statuses(2, () => readTransaction(KEY))).toEqual([200, 200]);
		const refused = await readTransaction(KEY);
		expect(refused.status).toBe(429);
		expect(refused.retryAfter).toBe('1');
		expect(JSON.parse(refused.text)).toEqual({ error: { code: 'common.rate_limited', message: 'Too many requests', details: {}, request_id: expect.any(String) } });
		expect(await statuses(2, () => readTransaction(OTHER_KEY))).toEqual([200, 200]);
		expect(await statuses(3, () => readTransaction())).toEqual([200, 200, 429]);
		expect(emulator.stats).toMatchObject({ rateLimited: 2, transactionReads: 6 });
		await eventually(async () => expect((await readTransaction(KEY)).status).toBe(200), 5000, 50);
		emulator.setRestRateLimit(null);
		expect(await statuses(10, () => readTransaction(KEY))).toEqual(Array(10).fill(200));
	});
});
