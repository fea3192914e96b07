/**
 * Allfeat ATS Webhook Trigger: repeated deliveries (Allfeat "may deliver the same event more than
 * once") are answered 200 and start nothing, remembered in the workflow's static data. Inside n8n's
 * engine (helpers/n8nWebhook.ts), with deliveries signed and sent by the Allfeat emulator.
 */
import { AllfeatEmulator, newWebhookSecret } from '../emulators/allfeat';
import { AllfeatAtsWebhookTrigger } from '../nodes/AllfeatAts/AllfeatAtsWebhookTrigger.node';
import { RECENT_DELIVERIES_FIELD, RecentDeliveries } from '../nodes/AllfeatAts/recentDeliveries';
import type { IDataObject } from 'n8n-workflow';
import { engineLogs } from './helpers/n8nEngine';
import { serveWebhookNode } from './helpers/n8nWebhook';
import type { ServedWebhook, WebhookNodeUnderTest } from './helpers/n8nWebhook';
import { eventually } from './helpers/wait';

const SECRET = newWebhookSecret();
const OTHER_SECRET = newWebhookSecret();
const DUPLICATE_ANSWER = JSON.stringify({ received: true, duplicate: true });
const STARTED_ANSWER = JSON.stringify({ message: 'Workflow was started' });

let emulator: AllfeatEmulator;
let receiver: ServedWebhook | undefined;

async function serve(options: { parameters?: Record<string, unknown>; mode?: WebhookNodeUnderTest['mode']; staticData?: IDataObject } = {}) {
	await receiver?.close();
	receiver = await serveWebhookNode({
		nodeType: new AllfeatAtsWebhookTrigger(),
		parameters: { events: [], ...options.parameters } as never,
		credentials: { allfeatAtsApi: { baseUrl: 'https://organizations.api.allfeat.org', apiKey: '', webhookSecret: SECRET } },
		mode: options.mode,
		staticData: options.staticData,
	});
	return receiver;
}

/** A final transaction's webhook payload, as Allfeat would send it. */
function finalPayload(options: Parameters<AllfeatEmulator['createTransaction']>[0] = {}) {
	const tx = emulator.createTransaction(options);
	emulator.advanceToEnd(tx.id);
	return emulator.webhookPayload(tx.id);
}

const deliver = async (target: ServedWebhook, payload: object, secret = SECRET) => await emulator.deliverWebhook(target.url, payload, secret);

beforeEach(async () => {
	emulator = await AllfeatEmulator.start();
	engineLogs.clear();
});

afterEach(async () => {
	await emulator.close();
	await receiver?.close();
	receiver = undefined;
});

describe('on by default', () => {
	test('Allfeat delivering an event twice (emulator, each delivery signed afresh): one execution, the repeat answered 200', async () => {
		const target = await serve();
		await emulator.close();
		emulator = await AllfeatEmulator.start({ webhook: { url: target.url, secretBase64: SECRET, times: 3 } });
		const tx = emulator.createTransaction();
		emulator.advanceToEnd(tx.id);
		await eventually(() => expect(emulator.webhookDeliveries).toHaveLength(3));
		expect(emulator.webhookDeliveries).toEqual([
			{ status: 200, body: STARTED_ANSWER },
			{ status: 200, body: DUPLICATE_ANSWER },
			{ status: 200, body: DUPLICATE_ANSWER },
		]);
		expect(target.items()).toEqual([expect.objectContaining({ id: tx.id, status: 'completed', details: expect.objectContaining({ event: 'work_registered' }) })]);
		expect(engineLogs.messages('info').join('\n')).toContain(`work_registered for transaction ${tx.id} was already received; acknowledged and dropped`);
	});

	test('a repeat is the same transaction and the same event: other events and other transactions are new', async () => {
		const target = await serve();
		const registered = finalPayload();
		const otherTransaction = finalPayload();
		const failed = finalPayload({ failAt: 'signing' });
		// The same transaction under another event is not a repeat (webhooks.mdx dedupes on the id; a
		// transaction has one outcome, so this only guards against dropping an event that differs).
		const sameIdOtherEvent = { ...registered, event: 'work_updated' };
		const statuses = [];
		for (const payload of [registered, sameIdOtherEvent, otherTransaction, failed, registered, failed, sameIdOtherEvent]) {
			statuses.push((await deliver(target, payload)).body);
		}
		expect(statuses).toEqual([STARTED_ANSWER, STARTED_ANSWER, STARTED_ANSWER, STARTED_ANSWER, DUPLICATE_ANSWER, DUPLICATE_ANSWER, DUPLICATE_ANSWER]);
		expect(target.items().map((item) => [item.id, (item.details as IDataObject).event])).toEqual([
			[registered.transaction_id, 'work_registered'],
			[registered.transaction_id, 'work_updated'],
			[otherTransaction.transaction_id, 'work_registered'],
			[failed.transaction_id, 'work_failed'],
		]);
	});

	test('a work_updated (a new version: its own transaction) after the work_registered of the same work starts the workflow', async () => {
		const target = await serve();
		const registered = finalPayload();
		const updated = finalPayload({ transactionType: 'add_version' });
		expect((await deliver(target, registered)).body).toBe(STARTED_ANSWER);
		expect((await deliver(target, updated)).body).toBe(STARTED_ANSWER);
		expect(target.items().map((item) => (item.details as IDataObject).event)).toEqual(['work_registered', 'work_updated']);
	});

	test('only verified deliveries are remembered: a forged copy first does not make the real one a repeat', async () => {
		const target = await serve();
		const payload = finalPayload();
		expect((await deliver(target, payload, OTHER_SECRET)).status).toBe(401);
		expect(target.staticData()).toEqual({});
		expect((await deliver(target, payload)).body).toBe(STARTED_ANSWER);
		// A forged copy of a delivery already received is still refused as forged, not acknowledged.
		expect((await deliver(target, payload, OTHER_SECRET)).status).toBe(401);
		expect(target.items()).toHaveLength(1);
	});

	test('events the filter drops are acknowledged but not remembered', async () => {
		const target = await serve({ parameters: { events: ['work_failed'] } });
		const registered = finalPayload();
		expect(JSON.parse((await deliver(target, registered)).body)).toEqual({ received: true, ignored: 'work_registered' });
		expect(target.staticData()).toEqual({});
	});

	test('the record is JSON in the static data and survives a restart (n8n loads the static data again)', async () => {
		const first = await serve();
		const payload = finalPayload();
		await deliver(first, payload);
		const saved = first.staticData();
		const nodeData = saved['node:Allfeat ATS Webhook Trigger'] as IDataObject;
		expect(nodeData[RECENT_DELIVERIES_FIELD]).toEqual({ [`${payload.transaction_id as string} work_registered`]: expect.any(Number) });

		const restarted = await serve({ staticData: saved });
		expect((await deliver(restarted, payload)).body).toBe(DUPLICATE_ANSWER);
		expect(restarted.items()).toEqual([]);
	});
});

describe('off, and test events', () => {
	test('with Drop Repeated Deliveries off, every verified delivery starts the workflow and nothing is stored', async () => {
		const target = await serve({ parameters: { dropRepeats: false } });
		const payload = finalPayload();
		expect((await deliver(target, payload)).body).toBe(STARTED_ANSWER);
		expect((await deliver(target, payload)).body).toBe(STARTED_ANSWER);
		expect(target.items()).toHaveLength(2);
		expect(target.staticData()).toEqual({});
	});

	test('test events (the editor\'s test URL) are never dropped: sending one again shows it again', async () => {
		const target = await serve({ mode: 'manual' });
		const payload = finalPayload();
		await deliver(target, payload);
		await deliver(target, payload);
		expect(target.items()).toHaveLength(2);
	});
});

describe('RecentDeliveries bounds', () => {
	const delivery = (n: number, event = 'work_registered') => ({ transaction_id: `tx-${n}`, event });

	test('keeps at most maxEntries, dropping the oldest first', () => {
		const store: Record<string, unknown> = {};
		const recent = new RecentDeliveries(store, { maxEntries: 3, maxAgeSeconds: 3600 });
		for (const n of [1, 2, 3, 4]) expect(recent.admit(delivery(n), 1000 + n)).toBe('new');
		expect(recent.size(1010)).toBe(3);
		expect(Object.keys(store[RECENT_DELIVERIES_FIELD] as object)).toEqual(['tx-2 work_registered', 'tx-3 work_registered', 'tx-4 work_registered']);
		expect(recent.admit(delivery(4), 1010)).toBe('repeat');
		// The oldest fell out of the bound, so it is new again.
		expect(recent.admit(delivery(1), 1010)).toBe('new');
	});

	test('forgets deliveries older than maxAgeSeconds', () => {
		const store: Record<string, unknown> = {};
		const recent = new RecentDeliveries(store, { maxEntries: 10, maxAgeSeconds: 60 });
		recent.admit(delivery(1), 1000);
		expect(recent.admit(delivery(1), 1060)).toBe('repeat');
		expect(recent.admit(delivery(1), 1061)).toBe('new');
		expect(store[RECENT_DELIVERIES_FIELD]).toEqual({ 'tx-1 work_registered': 1061 });
	});

	test('a missing or malformed record starts empty instead of failing', () => {
		for (const stored of [undefined, null, 'x', [1, 2], { 'tx-1 work_registered': 'yesterday' }]) {
			const store: Record<string, unknown> = { [RECENT_DELIVERIES_FIELD]: stored };
			expect(new RecentDeliveries(store).admit(delivery(1), 1000)).toBe('new');
			expect(store[RECENT_DELIVERIES_FIELD]).toEqual({ 'tx-1 work_registered': 1000 });
		}
	});
});
