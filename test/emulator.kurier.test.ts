import WebSocket from 'ws';
import { KurierEmulator } from '../emulators/kurier';
import type { KurierEmulatorOptions } from '../emulators/kurier';

const KEY = 'kurier-test-key';
const OTHER_KEY = 'other-key';
type Frame = Record<string, any>;

/** A ws client that buffers every text frame so tests can await the one they expect. */
class TestSocket {
	readonly ws: WebSocket;
	readonly closed: Promise<{ code: number; reason: string }>;
	private readonly texts: string[] = [];
	private notify = (): void => undefined;

	constructor(url: string) {
		this.ws = new WebSocket(url);
		this.ws.on('error', () => undefined);
		this.ws.on('message', (data) => {
			this.texts.push(String(data));
			this.notify();
		});
		this.closed = new Promise((resolve) => this.ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
	}

	/** Removes and returns the first buffered text accepted by `match`, waiting up to 2 s for it. */
	async take(match: (text: string) => boolean, timeoutMs = 2000): Promise<string> {
		const deadline = Date.now() + timeoutMs;
		for (;;) {
			const index = this.texts.findIndex(match);
			if (index >= 0) return this.texts.splice(index, 1)[0];
			const left = deadline - Date.now();
			if (left <= 0) throw new Error(`no matching frame; buffered: ${this.texts.join(' | ')}`);
			await new Promise<void>((resolve) => {
				const timer = setTimeout(resolve, left);
				this.notify = () => (clearTimeout(timer), resolve());
			});
		}
	}

	async next(type: string, timeoutMs?: number): Promise<Frame> {
		return JSON.parse(await this.take((text) => text.startsWith(`{"type":"${type}"`), timeoutMs));
	}

	send(message: unknown): void {
		this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
	}
}

let emulator: KurierEmulator;
let sockets: TestSocket[] = [];

async function startEmulator(options: KurierEmulatorOptions = {}): Promise<void> {
	emulator = await KurierEmulator.start({ apiKeys: [KEY, OTHER_KEY], ...options });
}

function open(key = KEY): TestSocket {
	const socket = new TestSocket(`${emulator.wsUrl}?apiKey=${key}`);
	sockets.push(socket);
	return socket;
}

async function connected(key = KEY): Promise<TestSocket> {
	const socket = open(key);
	await socket.next('connected');
	return socket;
}

async function rest(path: string, body?: unknown): Promise<{ status: number; json: Frame }> {
	const init = body === undefined ? {} : { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) };
	const response = await fetch(`${emulator.restBaseUrl}${path}`, { headers: { 'content-type': 'application/json' }, ...init });
	return { status: response.status, json: (await response.json()) as Frame };
}

beforeEach(() => startEmulator());
afterEach(async () => {
	for (const socket of sockets) socket.ws.terminate();
	sockets = [];
	await emulator.close();
});

describe('KurierEmulator REST', () => {
	it('serves status/version, rejects bad keys, unknown routes and malformed JSON, delays on request', async () => {
		expect((await rest('/status')).json.supportedProofs).toContain('groth16');
		expect((await rest('/version')).json).toMatchObject({ apiVersion: 'v0.1.0', status: 'ok' });
		expect(await rest('/job-status/nope/credential-test')).toEqual({ status: 401, json: { statusCode: 401, code: 'UNAUTHORIZED', error: 'Unauthorized', message: 'Unauthorized or disabled API key' } });
		expect((await rest('/no-such-route')).status).toBe(404);
		expect((await rest(`/submit-proof/${KEY}`, '{not json')).status).toBe(400);
		emulator.setRestDelayMs(150);
		const startedAt = Date.now();
		await rest('/version');
		expect(Date.now() - startedAt).toBeGreaterThanOrEqual(140);
	});

	it('registers a VK once, then answers REGISTER_VK_FAILED with the hash', async () => {
		const vk = { protocol: 'groth16', nPublic: 1 };
		const first = await rest(`/register-vk/${KEY}`, { proofType: 'groth16', vk });
		expect(first.json.vkHash).toMatch(/^0x[0-9a-f]{64}$/);
		const again = await rest(`/register-vk/${KEY}`, { proofType: 'groth16', vk });
		expect(again).toEqual({ status: 400, json: { error: 'Bad Request', code: 'REGISTER_VK_FAILED', message: 'Verification Key Registration Failed: Verification key is already registered', meta: { vkHash: first.json.vkHash } } });
		expect((await rest(`/register-vk/${KEY}`, { proofType: 'groth16' })).json).toMatchObject({ code: 'VALIDATION_ERROR', message: "body must have required property 'vk'" });
	});

	it('validates submissions and serves job status per key', async () => {
		const proofData = { proof: { pi_a: [] }, vk: { protocol: 'groth16' } };
		expect((await rest(`/submit-proof/${KEY}`, { proofType: 'groth16', vkRegistered: false })).json.code).toBe('VALIDATION_ERROR');
		expect((await rest(`/submit-proof/${KEY}`, { proofType: 'nope', vkRegistered: false, proofData })).status).toBe(400);
		expect((await rest(`/submit-proof/${KEY}`, { proofType: 'groth16', vkRegistered: true, proofData: { ...proofData, vk: '0x12' } })).json.code).toBe('VK_NOT_REGISTERED');
		const submitted = await rest(`/submit-proof/${KEY}`, { proofType: 'groth16', vkRegistered: false, proofData, chainId: 84532 });
		expect(submitted.json.optimisticVerify).toBe('success');
		const status = await rest(`/job-status/${KEY}/${submitted.json.jobId}`);
		expect(status.json).toMatchObject({ status: 'Queued', statusId: 0, chainId: 84532, txHash: null });
		expect((await rest(`/job-status/${OTHER_KEY}/${submitted.json.jobId}`)).json.code).toBe('JOB_NOT_FOUND');
		expect((await rest(`/job-status/${KEY}/${crypto.randomUUID()}`)).status).toBe(404);
		expect((await rest(`/job-status/${KEY}/credential-test`)).json).toMatchObject({ statusCode: 400, message: 'Invalid jobId format' });

		const failing = await rest(`/submit-proof/${KEY}`, { proofType: 'groth16', vkRegistered: false, proofData: { proof: 'invalid', vk: 'x' } });
		expect(failing.json.optimisticVerify).toBe('failed');
		expect(emulator.advanceToEnd(failing.json.jobId)).toMatchObject({ status: 'Failed', statusId: 8, errorDetails: { message: expect.any(String) } });
	});
});

describe('KurierEmulator WebSocket', () => {
	it('answers pings and streams updates to job and subscribe-all subscribers', async () => {
		const perJob = await connected();
		const all = await connected();
		const stranger = await connected(OTHER_KEY);
		perJob.send({ type: 'ping' });
		expect(typeof (await perJob.next('pong')).timestamp).toBe('number');
		const pong = new Promise((resolve) => perJob.ws.once('pong', resolve));
		perJob.ws.ping();
		await pong;

		all.send({ type: 'subscribe-all' });
		stranger.send({ type: 'subscribe-all' });
		await Promise.all([all.next('subscribed-all'), stranger.next('subscribed-all')]);
		const job = emulator.createJob(KEY, { chainId: 11155111 });
		expect((await all.next('job-status-update')).data).toMatchObject({ jobId: job.jobId, status: 'Queued', event: 'queued' });
		perJob.send({ type: 'subscribe', jobId: job.jobId });
		expect(await perJob.next('subscribed')).toEqual({ type: 'subscribed', jobId: job.jobId });

		const final = emulator.advanceToEnd(job.jobId);
		expect(final).toMatchObject({ status: 'Aggregated', statusId: 6, aggregationId: expect.any(Number), aggregationDetails: { merkleProof: [] } });
		for (const socket of [perJob, all]) {
			const events = [];
			for (let i = 0; i < 5; i++) events.push((await socket.next('job-status-update')).data.event);
			expect(events).toEqual(['valid', 'submitted', 'included-in-block', 'aggregation-pending', 'aggregated']);
		}
		expect(emulator.advance(job.jobId).updatedAt).toBe(final.updatedAt);
		await expect(stranger.next('job-status-update', 100)).rejects.toThrow('no matching frame');
		expect(emulator.openConnectionCount(KEY)).toBe(2);
		expect(emulator.stats).toMatchObject({ connectionsAccepted: 3, subscribeMessages: 3, pingsReceived: 2 });
	});

	it('answers bad messages with error frames and honours injected rate limits', async () => {
		const socket = await connected();
		const otherJob = emulator.createJob(OTHER_KEY);
		socket.send('{oops');
		expect((await socket.next('error')).code).toBe('INVALID_MESSAGE');
		socket.send({ type: 'dance' });
		expect((await socket.next('error')).code).toBe('INVALID_MESSAGE');
		socket.send({ type: 'subscribe', jobId: 'nope' });
		expect((await socket.next('error')).code).toBe('INVALID_JOB_ID');
		socket.send({ type: 'subscribe', jobId: otherJob.jobId });
		expect(await socket.next('error')).toEqual({ type: 'error', code: 'JOB_NOT_FOUND', message: 'Job not found', jobId: otherJob.jobId });
		emulator.rateLimitNextSubscribes(1, 3);
		socket.send({ type: 'subscribe-all' });
		expect(await socket.next('error')).toEqual({ type: 'error', code: 'RATE_LIMITED', message: 'Too many subscription requests', retryAfterSeconds: 3 });
		socket.send({ type: 'subscribe-all' });
		await socket.next('subscribed-all');
	});

	it('closes unauthorised and over-limit connections', async () => {
		await emulator.close();
		await startEmulator({ maxConnectionsPerKey: 1 });
		expect(await open('bad-key').closed).toEqual({ code: 1008, reason: 'Unauthorized' });
		await connected();
		const extra = open();
		expect(await extra.next('error')).toMatchObject({ code: 'CONNECTION_LIMIT', retryAfterSeconds: 5 });
		expect(await extra.closed).toEqual({ code: 1013, reason: 'Try Again Later' });
		expect(emulator.stats).toMatchObject({ connectionsAccepted: 1, connectionsRefused: 2 });
	});

	it('injects faults: refused upgrades, raw frames, closes, drops and silent pings', async () => {
		emulator.setRefuseUpgrades(503, 7);
		const refused = open();
		const response = await new Promise<{ statusCode?: number; headers: Frame }>((resolve) => refused.ws.on('unexpected-response', (_req, res) => resolve(res)));
		expect([response.statusCode, response.headers['retry-after']]).toEqual([503, '7']);
		emulator.setRefuseUpgrades(null);

		const socket = await connected();
		emulator.setAnswerPings(false);
		socket.send({ type: 'ping' });
		await expect(socket.next('pong', 150)).rejects.toThrow('no matching frame');
		emulator.sendRawToAll('not json');
		expect(await socket.take((text) => text === 'not json')).toBe('not json');
		emulator.closeAllConnections(4001, 'maintenance');
		expect(await socket.closed).toEqual({ code: 4001, reason: 'maintenance' });

		const dropped = await connected();
		emulator.dropAllConnections();
		expect((await dropped.closed).code).toBe(1006);
		expect(emulator.openConnectionCount()).toBe(0);
	});

	it('advances jobs on its own when stepMs is set', async () => {
		await emulator.close();
		await startEmulator({ stepMs: 5 });
		const socket = await connected();
		socket.send({ type: 'subscribe-all' });
		await socket.next('subscribed-all');
		const job = emulator.createJob(KEY);
		let update: Frame;
		do update = (await socket.next('job-status-update')).data;
		while (update.status !== 'Finalized');
		expect(emulator.getJob(job.jobId)).toMatchObject({ status: 'Finalized', statusId: 4, txExplorerUrl: expect.stringContaining(update.txHash) });
	});
});

describe('KurierEmulator variants of the public sources (issue 8)', () => {
	it('GET /jobs: off → 404, unauthorized → 401, on → the key\'s jobs with status/createdAfter filters and pages', async () => {
		expect((await rest(`/jobs?apiKey=${KEY}`)).status).toBe(404);
		emulator.setJobListing('unauthorized');
		expect((await rest(`/jobs?apiKey=${KEY}`)).status).toBe(401);
		emulator.setJobListing('on');
		expect((await rest('/jobs?apiKey=wrong')).status).toBe(401);
		const a = emulator.createJob(KEY);
		await new Promise((resolve) => setTimeout(resolve, 5));
		const cut = new Date().toISOString();
		await new Promise((resolve) => setTimeout(resolve, 5));
		const b = emulator.createJob(KEY);
		const c = emulator.createJob(KEY);
		emulator.createJob(OTHER_KEY);
		emulator.advanceToEnd(c.jobId);
		const all = await rest(`/jobs?apiKey=${KEY}`);
		expect(all.json).toMatchObject({ page: 1, total: 3 });
		expect(all.json.jobs.map((j: Frame) => j.jobId)).toEqual([a.jobId, b.jobId, c.jobId]);
		const recent = await rest(`/jobs?apiKey=${KEY}&createdAfter=${encodeURIComponent(cut)}&pageSize=1&page=2`);
		expect(recent.json).toMatchObject({ page: 2, pageSize: 1, total: 2, jobs: [{ jobId: c.jobId, status: 'Finalized' }] });
		const finalized = await rest(`/jobs?apiKey=${KEY}&status=Finalized`);
		expect(finalized.json.jobs.map((j: Frame) => j.jobId)).toEqual([c.jobId]);
	});

	it('GET /status lists the live testnet proof types, a chosen list, or fails with 500', async () => {
		expect((await rest('/status')).json.supportedProofs).toEqual(['groth16', 'plonky2', 'risc0', 'fflonk', 'ultraplonk', 'sp1', 'ultrahonk', 'ezkl']);
		emulator.setSupportedProofs(['groth16']);
		expect((await rest('/status')).json.supportedProofs).toEqual(['groth16']);
		emulator.setSupportedProofs('error');
		expect((await rest('/status')).status).toBe(500);
	});

	it('submissionMode: direct needs a chainId, ends at Finalized, and is shown only with reportSubmissionMode', async () => {
		const proofData = { proof: '0x01', publicSignals: ['0x01'], vk: { v: 1 } };
		expect((await rest(`/submit-proof/${KEY}`, { proofType: 'groth16', vkRegistered: false, submissionMode: 'direct', proofData })).json.message).toBe('body/chainId is required with submissionMode direct');
		expect((await rest(`/submit-proof/${KEY}`, { proofType: 'groth16', vkRegistered: false, submissionMode: 'sideways', chainId: 84532, proofData })).status).toBe(400);
		const { json } = await rest(`/submit-proof/${KEY}`, { proofType: 'groth16', vkRegistered: false, submissionMode: 'direct', chainId: 84532, proofData });
		expect(emulator.advanceToEnd(json.jobId)).toMatchObject({ status: 'Finalized', chainId: 84532 });
		expect((await rest(`/job-status/${KEY}/${json.jobId}`)).json.submissionMode).toBeUndefined();
		emulator.setReportSubmissionMode(true);
		expect((await rest(`/job-status/${KEY}/${json.jobId}`)).json.submissionMode).toBe('direct');
	});

	it('subscriptionEndsAtFinalized: a chain job goes through Finalized, then no socket hears of it; a late subscribe is acknowledged only', async () => {
		await emulator.close();
		await startEmulator({ subscriptionEndsAtFinalized: true });
		const job = emulator.createJob(KEY, { chainId: 84532 });
		const one = await connected();
		const all = await connected();
		one.send({ type: 'subscribe', jobId: job.jobId });
		await one.next('subscribed');
		all.send({ type: 'subscribe-all' });
		await all.next('subscribed-all');
		while (emulator.getJob(job.jobId)?.status !== 'Finalized') emulator.advance(job.jobId);
		for (const socket of [one, all]) {
			for (;;) if ((await socket.next('job-status-update')).data.status === 'Finalized') break;
		}
		emulator.advanceToEnd(job.jobId);
		const late = await connected();
		late.send({ type: 'subscribe', jobId: job.jobId });
		await late.next('subscribed');
		await expect(one.next('job-status-update', 200)).rejects.toThrow(/no matching frame/);
		await expect(all.next('job-status-update', 200)).rejects.toThrow(/no matching frame/);
		expect((await rest(`/job-status/${KEY}/${job.jobId}`)).json.status).toBe('Aggregated');
	});

	it('1008 variants: connection limit, lifetime (reason or error frame), revoked key', async () => {
		await emulator.close();
		await startEmulator({ maxConnectionsPerKey: 1, connectionLimitCloseCode: 1008 });
		const first = await connected();
		const second = open();
		expect((await second.next('error')).code).toBe('CONNECTION_LIMIT');
		expect(await second.closed).toEqual({ code: 1008, reason: 'Connection limit exceeded' });
		emulator.expireConnections();
		expect(await first.closed).toEqual({ code: 1008, reason: 'Connection lifetime exceeded' });
		const third = await connected();
		emulator.expireConnections({ errorFrame: true });
		expect((await third.next('error')).code).toBe('CONNECTION_LIFETIME_EXCEEDED');
		expect(await third.closed).toEqual({ code: 1008, reason: '' });
		const fourth = await connected();
		emulator.revokeKey(KEY);
		expect(await fourth.closed).toEqual({ code: 1008, reason: 'Unauthorized' });
		expect(await open().closed).toEqual({ code: 1008, reason: 'Unauthorized' });
	});
});
