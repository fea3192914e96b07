/**
 * Allfeat ATS Webhook Trigger inside n8n's engine (n8n-core's WebhookContext behind a real HTTP
 * server, see helpers/n8nWebhook.ts), receiving signed deliveries from the Allfeat emulator's
 * webhook sender over 127.0.0.1.
 */
import { AllfeatEmulator, newWebhookSecret, signAllfeatWebhook } from '../emulators/allfeat';
import { AllfeatAtsWebhookTrigger } from '../nodes/AllfeatAts/AllfeatAtsWebhookTrigger.node';
import type { NormalizedItem } from '../nodes/shared/NormalizedItem';
import { engineLogs } from './helpers/n8nEngine';
import { serveWebhookNode } from './helpers/n8nWebhook';
import type { ServedWebhook } from './helpers/n8nWebhook';
import { eventually } from './helpers/wait';

const SECRET = newWebhookSecret();
const OTHER_SECRET = newWebhookSecret();
const KEY = `afo_sk_live_${'9f8e'.repeat(12)}`;

let emulator: AllfeatEmulator;
let receiver: ServedWebhook;

async function serve(parameters: Record<string, unknown> = {}, webhookSecret = SECRET) {
	await receiver?.close();
	receiver = await serveWebhookNode({
		nodeType: new AllfeatAtsWebhookTrigger(),
		parameters: { events: [], ...parameters } as never,
		credentials: { allfeatAtsApi: { baseUrl: 'https://ats.api.allfeat.org', apiKey: KEY, webhookSecret } },
	});
	return receiver;
}

/** A final transaction's webhook payload, as Allfeat would send it. */
function finalPayload(options: Parameters<AllfeatEmulator['createTransaction']>[0] = {}) {
	const tx = emulator.createTransaction(options);
	emulator.advanceToEnd(tx.id);
	return emulator.webhookPayload(tx.id);
}

const now = () => Math.floor(Date.now() / 1000);

beforeEach(async () => {
	emulator = await AllfeatEmulator.start();
	await serve();
	engineLogs.clear();
});

afterEach(async () => {
	await emulator.close();
	await receiver.close();
});

afterAll(() => {
	for (const secret of [SECRET, OTHER_SECRET, KEY]) expect(engineLogs.text()).not.toContain(secret);
});

describe('valid deliveries', () => {
	test('the emulator delivers work_registered at finality; it is verified, acknowledged and emitted as the normalized item', async () => {
		await emulator.close();
		emulator = await AllfeatEmulator.start({ webhook: { url: receiver.url, secretBase64: SECRET } });
		const tx = emulator.createTransaction({ externalUserRef: 'user-42' });
		const done = emulator.advanceToEnd(tx.id);
		await eventually(() => expect(emulator.webhookDeliveries).toEqual([{ status: 200, body: JSON.stringify({ message: 'Workflow was started' }) }]));
		expect(receiver.items()).toHaveLength(1);
		const item = receiver.items()[0] as unknown as NormalizedItem;
		expect(item).toEqual({
			source: 'allfeat-ats',
			id: tx.id,
			status: 'completed',
			phase: 'succeeded',
			isFinal: true,
			progress: 100,
			txHash: done.result!.tx_hash,
			blockHash: done.result!.block_hash,
			blockNumber: done.result!.block_number,
			chainId: null,
			explorerUrl: done.result!.explorer_url,
			error: null,
			occurredAt: done.updated_at,
			receivedAt: expect.any(String),
			details: {
				event: 'work_registered',
				transaction_type: 'register',
				organization_id: expect.any(String),
				api_key_id: expect.any(String),
				external_user_ref: 'user-42',
				network: 'testnet',
				ats_id: done.result!.ats_id,
				access_code: done.result!.access_code,
				finalized_at: done.updated_at,
			},
		});
	});

	test('work_updated and work_failed are the same item shape; a failure carries its reason', async () => {
		const updated = await emulator.deliverWebhook(receiver.url, finalPayload({ transactionType: 'add_version' }), SECRET);
		const failed = await emulator.deliverWebhook(receiver.url, finalPayload({ failAt: 'submitting' }), SECRET);
		expect([updated.status, failed.status]).toEqual([200, 200]);
		const [first, second] = receiver.items();
		expect(first).toMatchObject({ status: 'completed', phase: 'succeeded', details: { event: 'work_updated', transaction_type: 'add_version' } });
		expect(second).toMatchObject({ status: 'failed', phase: 'failed', isFinal: true, error: 'Insufficient balance', txHash: null, details: { event: 'work_failed' } });
	});

	test('an event this node does not know passes through as a pending, non-final status', async () => {
		const delivery = await emulator.deliverWebhook(receiver.url, { event: 'work_queued', transaction_id: '6f1c2a4e-9b7d-4c3e-8f21-0a5b6c7d8e9f', eta: 12 }, SECRET);
		expect(delivery.status).toBe(200);
		expect(receiver.items()[0]).toMatchObject({ status: 'work_queued', phase: 'pending', isFinal: false, details: { eta: 12 } });
	});

	test('several v1 signatures: one matching is enough (secret rotation)', async () => {
		const body = JSON.stringify(finalPayload());
		const t = now();
		const header = `t=${t},v1=${signAllfeatWebhook(OTHER_SECRET, t, body)},v1=${signAllfeatWebhook(SECRET, t, body)}`;
		const delivery = await emulator.deliverWebhook(receiver.url, body, SECRET, { signatureHeader: header });
		expect(delivery.status).toBe(200);
		expect(receiver.items()).toHaveLength(1);
	});

	test('the events filter acknowledges other events without starting the workflow', async () => {
		await serve({ events: ['work_failed'] });
		const ignored = await emulator.deliverWebhook(receiver.url, finalPayload(), SECRET);
		expect(ignored).toEqual({ status: 200, body: JSON.stringify({ received: true, ignored: 'work_registered' }) });
		const kept = await emulator.deliverWebhook(receiver.url, finalPayload({ failAt: 'signing' }), SECRET);
		expect(kept.status).toBe(200);
		expect(receiver.items()).toEqual([expect.objectContaining({ status: 'failed' })]);
	});
});

describe('refused deliveries', () => {
	const rejected = async (delivery: Promise<{ status: number; body: string }>, status: number, error: string) => {
		const response = await delivery;
		expect(response.status).toBe(status);
		expect(JSON.parse(response.body)).toMatchObject({ error });
		expect(receiver.emissions).toEqual([]);
		return response;
	};

	test('forged: signed with another secret → 401, nothing emitted', async () => {
		const response = await rejected(emulator.deliverWebhook(receiver.url, finalPayload(), OTHER_SECRET), 401, 'invalid_signature');
		expect(JSON.parse(response.body).message).toBe('signature does not match');
		expect(engineLogs.messages('warn').join('\n')).toContain('Allfeat ATS webhook refused with 401: signature does not match');
	});

	test('tampered: a valid signature over another body → 401', async () => {
		const payload = finalPayload();
		const t = now();
		const header = `t=${t},v1=${signAllfeatWebhook(SECRET, t, JSON.stringify(payload))}`;
		const tampered = JSON.stringify({ ...payload, ats_id: 1 });
		await rejected(emulator.deliverWebhook(receiver.url, tampered, SECRET, { signatureHeader: header }), 401, 'invalid_signature');
		// Same JSON re-serialized with other whitespace is different bytes: refused too.
		const reformatted = JSON.stringify(payload, null, 2);
		await rejected(emulator.deliverWebhook(receiver.url, reformatted, SECRET, { signatureHeader: header }), 401, 'invalid_signature');
	});

	test('stale or from the future (more than 300 s off) → 401, even when correctly signed', async () => {
		const stale = await rejected(emulator.deliverWebhook(receiver.url, finalPayload(), SECRET, { timestamp: now() - 301 }), 401, 'invalid_signature');
		expect(JSON.parse(stale.body).message).toBe('signature timestamp outside the 300 s tolerance');
		await rejected(emulator.deliverWebhook(receiver.url, finalPayload(), SECRET, { timestamp: now() + 301 }), 401, 'invalid_signature');
		// Within the tolerance it is accepted.
		const recent = await emulator.deliverWebhook(receiver.url, finalPayload(), SECRET, { timestamp: now() - 240 });
		expect(recent.status).toBe(200);
	});

	test('missing or malformed signature header → 401', async () => {
		await rejected(emulator.deliverWebhook(receiver.url, finalPayload(), SECRET, { signatureHeader: null }), 401, 'invalid_signature');
		for (const header of ['v1=abc', `t=soon,v1=${'0'.repeat(64)}`, `t=${now()}`, `t=${now()},v1=not-hex`, 'garbage']) {
			await rejected(emulator.deliverWebhook(receiver.url, finalPayload(), SECRET, { signatureHeader: header }), 401, 'invalid_signature');
		}
	});

	test('valid signature but a body that is not JSON, or not an ATS event → 400, nothing emitted', async () => {
		const notJson = await rejected(emulator.deliverWebhook(receiver.url, '{"event":"work_registered",', SECRET, { contentType: 'text/plain' }), 400, 'invalid_payload');
		expect(JSON.parse(notJson.body).message).toBe('the body is not JSON');
		const notEvent = await rejected(emulator.deliverWebhook(receiver.url, { hello: 'world' }, SECRET), 400, 'invalid_payload');
		expect(JSON.parse(notEvent.body).message).toMatch(/not an Allfeat ATS event \(event: Required\)/);
	});

	test('a credential without a usable webhook secret answers 500 (Allfeat retries) and logs why', async () => {
		await serve({}, '');
		await rejected(emulator.deliverWebhook(receiver.url, finalPayload(), SECRET), 500, 'webhook_secret_not_configured');
		expect(engineLogs.messages('error').join('\n')).toContain('the credential has no usable webhook secret. The credential has no webhook secret');
		await serve({}, 'not base64 at all!');
		await rejected(emulator.deliverWebhook(receiver.url, finalPayload(), SECRET), 500, 'webhook_secret_not_configured');
	});

	test('no secret appears in any response or item', async () => {
		const responses = [
			await emulator.deliverWebhook(receiver.url, finalPayload(), SECRET),
			await emulator.deliverWebhook(receiver.url, finalPayload(), OTHER_SECRET),
			await emulator.deliverWebhook(receiver.url, 'nope', SECRET, { contentType: 'text/plain' }),
		];
		const everything = JSON.stringify({ responses, items: receiver.items() });
		for (const secret of [SECRET, OTHER_SECRET, KEY]) expect(everything).not.toContain(secret);
		expect(receiver.items()).toHaveLength(1);
		expect(receiver.errors).toEqual([]);
	});
});
