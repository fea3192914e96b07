/**
 * The Allfeat emulator's registration API over real HTTP and WebSocket on 127.0.0.1: init → upload
 * (presigned, single use, expiring) → prepare (the quote) → confirm (a transaction that moves on
 * REST, WebSocket and the signed webhook), idempotency per key for 24 h of virtual time, the
 * testnet quota, and injected errors. What the node relies on is pinned down here.
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { WebSocket } from 'ws';

import { eventually } from './helpers/wait';
import { AllfeatEmulator, IDEMPOTENCY_TTL_MS, REGISTRATION_ERROR_STATUS, newWebhookSecret, signAllfeatWebhook } from '../emulators/allfeat';

const KEY = `afo_sk_live_${'c0de'.repeat(12)}`;
const NARROW_KEY = `afo_sk_live_${'beef'.repeat(12)}`;
const SECRET = newWebhookSecret();
let emulator: AllfeatEmulator;
let org: string;

const creators = [{ full_name: 'Ada Lovelace', email: 'ada@example.com', roles: { author: true, composer: false, arranger: false, adapter: false } }];

async function call(path: string, body: unknown, options: { key?: string; idempotencyKey?: string } = {}) {
	const response = await fetch(`${emulator.baseUrl}${path}`, {
		method: 'POST',
		headers: {
			'content-type': 'application/json',
			authorization: `Bearer ${options.key ?? KEY}`,
			...(options.idempotencyKey ? { 'idempotency-key': options.idempotencyKey } : {}),
		},
		body: JSON.stringify(body),
	});
	return { status: response.status, body: (await response.json()) as Record<string, any> };
}

const works = (action: string) => `/v1/organizations/${org}/works/${action}`;
const init = (extra: Record<string, unknown> = {}, idempotencyKey?: string) =>
	call(works('init'), { network: 'testnet', title: 'Song', filename: 'song.mp3', creators, ...extra }, { idempotencyKey });

async function put(url: string, bytes: Buffer, headers: Record<string, string> = {}) {
	const response = await fetch(url, { method: 'PUT', headers: { 'content-type': 'audio/mpeg', ...headers }, body: bytes });
	return { status: response.status, body: (await response.json()) as Record<string, any> };
}

beforeEach(async () => {
	emulator = await AllfeatEmulator.start({ apiKeys: [KEY, NARROW_KEY], registration: { keyScopes: { [NARROW_KEY]: ['works:update'] } } });
	org = emulator.registration.organizationId;
});

afterEach(async () => await emulator.close());

test('the whole flow: init, upload, quote, confirm; the transaction moves on REST and WebSocket', async () => {
	const audio = Buffer.from('ID3 fake audio bytes');
	const started = await init({ external_user_ref: 'ref-1' });
	expect(started.status).toBe(200);
	expect(started.body).toEqual({ job_id: expect.any(String), upload_url: expect.stringContaining(`${emulator.baseUrl}/uploads/`), upload_expires_at: expect.any(String) });
	expect(Date.parse(started.body.upload_expires_at) - emulator.now()).toBeGreaterThan(9 * 60_000);
	expect((await put(started.body.upload_url, audio)).status).toBe(200);
	expect(emulator.registration.getJob(started.body.job_id)?.audio).toEqual({ sizeBytes: audio.length, sha256: createHash('sha256').update(audio).digest('hex'), contentType: 'audio/mpeg' });

	const quote = await call(works('prepare'), { job_id: started.body.job_id });
	expect(quote.body).toMatchObject({
		job_id: started.body.job_id,
		work_id: expect.any(String),
		commitment: expect.stringMatching(/^0x[0-9a-f]{64}$/),
		network_fee_credits: 0,
		total_deposit_credits: 0,
		service_fee_credits: 0,
		storage_fee_credits: 0,
		total_price_credits: 0,
		is_valid: true,
		expires_at: expect.any(String),
	});
	const confirmed = await call(works('confirm'), { job_id: started.body.job_id });
	expect(confirmed.status).toBe(202);
	const id = confirmed.body.transaction_id as string;
	expect(confirmed.body).toEqual({ transaction_id: id, ws_url: `/v1/ws/transactions/${id}`, status_url: `/v1/transactions/${id}` });

	const socket = new WebSocket(`${emulator.baseUrl.replace('http', 'ws')}${confirmed.body.ws_url}`);
	const frames: Array<Record<string, unknown>> = [];
	socket.on('message', (data) => frames.push(JSON.parse(String(data)) as Record<string, unknown>));
	await new Promise((resolve) => socket.once('open', resolve));
	await eventually(() => expect(frames.length).toBeGreaterThan(0));
	emulator.advanceToEnd(id);
	await new Promise((resolve) => socket.once('close', resolve));
	expect(frames.map((frame) => frame.step ?? frame.type)).toEqual(['connected', 'preparing_transaction', 'signing', 'submitting', 'confirming', 'completed']);
	const rest = (await (await fetch(`${emulator.baseUrl}${confirmed.body.status_url}`)).json()) as Record<string, unknown>;
	expect(rest).toMatchObject({ id, transaction_type: 'register', current_step: 'completed', is_complete: true });
	expect(emulator.registration.debits).toEqual([{ jobId: started.body.job_id, transactionId: id, credits: 0, network: 'testnet' }]);
	// A second confirm of the same job always 404s.
	expect((await call(works('confirm'), { job_id: started.body.job_id })).body.error.code).toBe('registration.prepared_not_found');
});

test('the signed webhook follows the transaction: work_registered on mainnet, work_updated for a version, work_failed', async () => {
	const received: Array<{ headers: Record<string, unknown>; body: string }> = [];
	const server: Server = createServer((req, res) => {
		const chunks: Buffer[] = [];
		req.on('data', (chunk: Buffer) => chunks.push(chunk));
		req.on('end', () => {
			received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
			res.end('ok');
		});
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	await emulator.close();
	emulator = await AllfeatEmulator.start({ apiKeys: [KEY], webhook: { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, secretBase64: SECRET } });
	org = emulator.registration.organizationId;
	try {
		const registered = await register({ network: 'mainnet', external_user_ref: 'ref-9' });
		emulator.advanceToEnd(registered.transactionId);
		const version = await call(`/v1/organizations/${org}/works/${registered.workId}/versions/init`, { network: 'testnet', creators });
		await call(`/v1/organizations/${org}/works/${registered.workId}/versions/prepare`, { job_id: version.body.job_id });
		const versionTx = (await call(`/v1/organizations/${org}/works/${registered.workId}/versions/confirm`, { job_id: version.body.job_id })).body.transaction_id as string;
		emulator.advanceToEnd(versionTx);
		const failing = emulator.createTransaction({ failAt: 'signing' });
		emulator.advanceToEnd(failing.id);
		await eventually(() => expect(received).toHaveLength(3));
		const bodies = received.map(({ body }) => JSON.parse(body) as Record<string, unknown>);
		expect(bodies[0]).toMatchObject({ event: 'work_registered', transaction_id: registered.transactionId, organization_id: org, network: 'mainnet', external_user_ref: 'ref-9' });
		expect(bodies[1]).toMatchObject({ event: 'work_updated', transaction_id: versionTx, network: 'testnet' });
		expect(bodies[2]).toMatchObject({ event: 'work_failed', transaction_id: failing.id });
		for (const { headers, body } of received) {
			const timestamp = String(headers['x-allfeat-timestamp']);
			expect(headers['x-allfeat-signature']).toBe(`t=${timestamp},v1=${signAllfeatWebhook(SECRET, timestamp, body)}`);
		}
		expect(emulator.getTransaction(versionTx)?.transaction_type).toBe('add_version');
	} finally {
		// Keep-alive connections of the webhook deliveries would hold close() for seconds.
		server.closeAllConnections();
		await new Promise((resolve) => server.close(resolve));
	}
});

test('the upload URL is single use, expires after 10 minutes (virtual) and takes no Authorization header', async () => {
	const first = await init();
	expect((await put(first.body.upload_url, Buffer.from('abc'), { authorization: `Bearer ${KEY}` })).body.error.code).toBe('upload.authorization_not_allowed');
	expect((await put(first.body.upload_url, Buffer.from('abc'))).status).toBe(200);
	expect((await put(first.body.upload_url, Buffer.from('abc'))).body.error.code).toBe('upload.already_used');
	const second = await init({ title: 'Other' });
	emulator.advanceClock(10 * 60_000 + 1);
	expect((await put(second.body.upload_url, Buffer.from('abc'))).body.error.code).toBe('upload.expired');
	const third = await init({ title: 'Third' });
	expect((await put(third.body.upload_url, Buffer.alloc(0))).body.error.code).toBe('registration.audio_empty');
	expect(emulator.registration.stats).toMatchObject({ uploadsAccepted: 1, uploadsRefused: 4, uploadsWithAuthorization: 1 });
});

test('an oversized upload is 413 with the sizes; the quote expires after 5 minutes; prepare before the upload is 404', async () => {
	await emulator.close();
	emulator = await AllfeatEmulator.start({ apiKeys: [KEY], registration: { maxAudioBytes: 10 } });
	org = emulator.registration.organizationId;
	const started = await init();
	expect((await call(works('prepare'), { job_id: started.body.job_id })).body.error.code).toBe('registration.upload_session_not_found');
	const tooLarge = await put(started.body.upload_url, Buffer.alloc(11, 1));
	expect(tooLarge.status).toBe(413);
	expect(tooLarge.body.error).toMatchObject({ code: 'registration.audio_too_large', details: { size_bytes: 11, max_bytes: 10 } });
	const other = await init({ title: 'Fits' });
	await put(other.body.upload_url, Buffer.alloc(10, 1));
	await call(works('prepare'), { job_id: other.body.job_id });
	emulator.advanceClock(5 * 60_000 + 1);
	expect((await call(works('confirm'), { job_id: other.body.job_id })).body.error.code).toBe('registration.prepared_not_found');
});

test('idempotency: the same key answers the same job for 24 h (virtual), per API key; errors are not kept', async () => {
	const a = await init({}, 'key-1');
	const again = await init({ title: 'ignored on a replay' }, 'key-1');
	expect(again.body).toEqual(a.body);
	expect(emulator.registration.stats).toMatchObject({ inits: 1, idempotentReplays: 1 });
	emulator.advanceClock(IDEMPOTENCY_TTL_MS - 1000);
	expect((await init({}, 'key-1')).body.job_id).toBe(a.body.job_id);
	emulator.advanceClock(2000);
	expect((await init({}, 'key-1')).body.job_id).not.toBe(a.body.job_id);
	expect((await init({ title: '' }, 'key-2')).body.error.code).toBe('registration.title_required');
	expect((await init({}, 'key-2')).status).toBe(200);
	expect((await init({}, 'k'.repeat(256))).body.error).toMatchObject({ code: 'common.validation_failed', details: { fields: { 'Idempotency-Key': expect.any(String) } } });
});

test('auth order and refusals: key form, unknown, revoked, organization first, inactive organization, scope', async () => {
	const prepare = (key: string, organization = org) => call(`/v1/organizations/${organization}/works/prepare`, { job_id: 'x' }, { key });
	expect((await prepare('not-a-key')).body.error.code).toBe('api_key.invalid_format');
	expect((await prepare(`afo_sk_live_${'0'.repeat(48)}`)).body.error.code).toBe('api_key.not_found');
	expect((await prepare(KEY, 'another-org')).body.error.code).toBe('api_key.org_mismatch');
	expect((await prepare(NARROW_KEY, 'another-org')).body.error.code).toBe('api_key.org_mismatch');
	const denied = await prepare(NARROW_KEY);
	expect(denied.status).toBe(403);
	expect(denied.body.error).toMatchObject({ code: 'api_key.scope_denied', details: { required: 'works:register' }, request_id: expect.stringMatching(/^req_/) });
	expect((await prepare(KEY)).body.error.code).toBe('registration.upload_session_not_found');
	emulator.registration.setOrganizationActive(false);
	expect((await prepare(KEY)).body.error.code).toBe('api_key.org_inactive');
	emulator.revokeApiKey(KEY);
	expect((await prepare(KEY)).body.error.code).toBe('api_key.revoked');
});

test('validation: title, filename, creators, and common.validation_failed naming each field', async () => {
	expect((await init({ filename: '' })).body.error.code).toBe('registration.filename_required');
	expect((await init({ creators: [] })).body.error.code).toBe('registration.creators_required');
	const invalid = await init({ network: 'moon', creators: [{ full_name: 'X', email: 'nope', roles: {} }] });
	expect(invalid.status).toBe(422);
	expect(invalid.body.error.details.fields).toEqual({ network: expect.any(String), 'creators[0].email': expect.any(String), 'creators[0].roles': expect.any(String) });
});

test('the testnet quota answers 429 at confirm with resets_at; credits are debited and can run out; versions of another organization\'s work are refused', async () => {
	emulator.registration.setTestnetQuota(1);
	await register();
	const over = await uploadAndPrepare();
	const refused = await call(works('confirm'), { job_id: over });
	expect(refused.status).toBe(429);
	expect(refused.body.error).toMatchObject({ code: 'common.quota_exceeded', details: { resets_at: emulator.registration.quotaResetsAt() } });
	emulator.registration.credits = 5;
	const mainnet = await uploadAndPrepare({ network: 'mainnet' });
	const poor = await call(works('confirm'), { job_id: mainnet });
	expect(poor.body.error).toMatchObject({ code: 'common.forbidden', details: { required: 18, available: 5 } });
	const foreign = emulator.registration.addWork('someone-else');
	expect((await call(`/v1/organizations/${org}/works/${foreign}/versions/init`, { network: 'testnet', creators })).body.error.code).toBe('work.access_forbidden');
	expect(emulator.registration.debits).toHaveLength(1);
});

test.each(Object.entries(REGISTRATION_ERROR_STATUS))('%s can be injected, with its status, details and Retry-After', async (code, status) => {
	emulator.registration.injectError('init', { code, details: { hint: code }, retryAfterSeconds: 3 });
	const response = await fetch(`${emulator.baseUrl}${works('init')}`, {
		method: 'POST',
		headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
		body: JSON.stringify({ network: 'testnet', title: 'Song', filename: 'a.mp3', creators }),
	});
	expect(response.status).toBe(status);
	expect(response.headers.get('retry-after')).toBe('3');
	expect(((await response.json()) as { error: unknown }).error).toMatchObject({ code, details: { hint: code }, request_id: expect.any(String) });
	expect((await init()).status).toBe(200);
});

test('503 on confirm: before (nothing debited) or after the confirm was carried out', async () => {
	const before = await uploadAndPrepare();
	emulator.registration.injectError('confirm', { code: 'common.service_unavailable', details: { debited: false } });
	expect((await call(works('confirm'), { job_id: before })).status).toBe(503);
	expect(emulator.registration.debits).toHaveLength(0);
	expect((await call(works('confirm'), { job_id: before })).status).toBe(202);
	const after = await uploadAndPrepare({ title: 'After' });
	emulator.registration.injectError('confirm', { code: 'common.service_unavailable', afterConfirming: true });
	expect((await call(works('confirm'), { job_id: after })).status).toBe(503);
	expect(emulator.registration.debits).toHaveLength(2);
	expect((await call(works('confirm'), { job_id: after })).body.error.code).toBe('registration.prepared_not_found');
});

async function uploadAndPrepare(extra: Record<string, unknown> = {}): Promise<string> {
	const started = await init(extra);
	await put(started.body.upload_url, Buffer.from(`audio ${JSON.stringify(extra)}`));
	const quote = await call(works('prepare'), { job_id: started.body.job_id });
	expect(quote.status).toBe(200);
	return started.body.job_id as string;
}

async function register(extra: Record<string, unknown> = {}): Promise<{ transactionId: string; workId: string }> {
	const jobId = await uploadAndPrepare(extra);
	const confirmed = await call(works('confirm'), { job_id: jobId });
	expect(confirmed.status).toBe(202);
	return { transactionId: confirmed.body.transaction_id as string, workId: emulator.registration.getJob(jobId)!.workId };
}
