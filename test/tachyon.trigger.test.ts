/**
 * Tachyon Trigger inside n8n's engine (ActiveWorkflowTriggers for activation, WorkflowExecute for
 * "Listen for test event"), over real WebSocket and HTTP to the Tachyon emulator on 127.0.0.1:
 * every frame shape, retry sequences, filters, exactly-once, reconnect with reconcile, manual mode.
 * Credentials, failures and lifecycle are in tachyon.trigger-failures.test.ts.
 */
import { TachyonEmulator } from '../emulators/tachyon';
import type { TachyonFrameShape } from '../emulators/tachyon';
import { TachyonTrigger } from '../nodes/Tachyon/TachyonTrigger.node';
import { activateTriggerExpectingError, engineLogs, runManually } from './helpers/n8nEngine';
import type { ActiveTrigger, NodeUnderTest } from './helpers/n8nEngine';
import { countOutgoingRequests } from './helpers/outgoing';
import { eventually, staysTrue } from './helpers/wait';
import { TestScope } from './helpers/testScope';

const scope = new TestScope();
const { later } = scope;

const API_KEY = 'tachyon-api-key-3f9b2c71d0';
const JWT = 'eyJhbGciOiJIUzI1NiJ9.dGFjaHlvbi10cmlnZ2Vy.c2lnbmF0dXJl';
const WS_KEY = 'ws_9a4e1f0c6b2d4e8fa1c3';
const OTHER = { apiKey: 'tachyon-other-key-55aa', dashboardJwt: 'other-jwt-7712', wsKey: 'ws_other_0099' };
let emulator: TachyonEmulator;

async function startEmulator(frameShape: TachyonFrameShape = 'bare') {
	emulator = await TachyonEmulator.start({ frameShape, accounts: [{ apiKey: API_KEY, dashboardJwt: JWT, wsKey: WS_KEY }, OTHER] });
}

const credentials = (overrides: Record<string, string> = {}) => ({
	tachyonApi: { baseUrl: emulator.baseUrl, apiKey: API_KEY, dashboardJwt: '', wsUrl: emulator.wsUrl, wsKey: WS_KEY, ...overrides },
});

const parameters = (overrides: Record<string, unknown> = {}) => ({ statuses: [], txIds: '', chainIds: '', ...overrides });

const activate = scope.activator((overrides: Record<string, unknown> = {}, creds: NodeUnderTest['credentials'] = credentials()) => ({ nodeType: new TachyonTrigger(), parameters: parameters(overrides) as never, credentials: creds }));


const transitions = (trigger: ActiveTrigger, id?: string) =>
	trigger
		.items()
		.filter((item) => id === undefined || item.id === id)
		.map((item) => `${String(item.status)}#${String((item.details as { retries: number }).retries)}`);

beforeEach(async () => {
	await startEmulator();
	engineLogs.clear();
});

afterEach(async () => {
	await scope.end();
	await emulator.close();
});

afterAll(() => {
	// No secret ever reaches a log line, whatever happened in this file.
	const logs = engineLogs.text();
	for (const secret of [API_KEY, JWT, WS_KEY]) expect(logs).not.toContain(secret);
});

describe.each<TachyonFrameShape>(['bare', 'notification', 'legacy'])('%s frames', (shape) => {
	beforeEach(async () => {
		await emulator.close();
		await startEmulator(shape);
	});

	test('a retried transaction that executes: each transition once, in order, as the normalized item', async () => {
		const trigger = await activate();
		const tx = emulator.submit(API_KEY, { willRetry: 1, chainId: 8453, label: 'payout' });
		emulator.advanceToEnd(tx.id);
		const items = await trigger.waitForItems(5);
		// Greeting and echo frames are not items.
		await staysTrue(() => expect(transitions(trigger)).toEqual(['NOT_PICKED_UP#0', 'PENDING#0', 'NEEDS_TO_BE_RETRIED#1', 'PENDING#1', 'EXECUTED#1']));
		expect(items.map((i) => i.phase)).toEqual(['pending', 'pending', 'retrying', 'pending', 'succeeded']);
		expect(items.map((i) => i.isFinal)).toEqual([false, false, false, false, true]);
		expect(trigger.emissions.every((e) => e.length === 1)).toBe(true);
		expect(items[4]).toMatchObject({ source: 'tachyon', id: tx.id, status: 'EXECUTED', chainId: 8453, error: null, progress: null, explorerUrl: null });
		expect(items[4].txHash).toMatch(/^0x[0-9a-f]{64}$/);
		expect(items[4].details).toMatchObject({ costUSD: 0.84, retries: 1 });
		expect(Date.parse(items[4].occurredAt as string)).toBeGreaterThanOrEqual(Date.parse(items[0].occurredAt as string));
		const text = JSON.stringify(items);
		for (const secret of [API_KEY, JWT, WS_KEY]) expect(text).not.toContain(secret);
	});

	test('a transaction retried twice that fails ends in one failed, final item with its reason', async () => {
		const trigger = await activate();
		const tx = emulator.submit(API_KEY, { willRetry: 2, willFail: true });
		emulator.advanceToEnd(tx.id);
		const items = await trigger.waitForItems(7);
		expect(transitions(trigger)).toEqual([
			'NOT_PICKED_UP#0',
			'PENDING#0',
			'NEEDS_TO_BE_RETRIED#1',
			'PENDING#1',
			'NEEDS_TO_BE_RETRIED#2',
			'PENDING#2',
			'FAILED#2',
		]);
		expect(items[6]).toMatchObject({ phase: 'failed', isFinal: true, error: 'execution reverted', txHash: null });
		expect(trigger.errors).toEqual([]);
	});
});

describe('filters', () => {
	test('statuses: only EXECUTED and FAILED start the workflow', async () => {
		const trigger = await activate({ statuses: ['EXECUTED', 'FAILED'] });
		const ok = emulator.submit(API_KEY, { willRetry: 1 });
		const bad = emulator.submit(API_KEY, { willFail: true });
		emulator.advanceToEnd(ok.id);
		emulator.advanceToEnd(bad.id);
		await trigger.waitForItems(2);
		await staysTrue(() =>
			expect(trigger.items().map((i) => [i.id, i.status])).toEqual([
				[ok.id, 'EXECUTED'],
				[bad.id, 'FAILED'],
			]),
		);
	});

	test('a status that comes back after a retry passes the statuses filter each time', async () => {
		const trigger = await activate({ statuses: ['PENDING'] });
		const tx = emulator.submit(API_KEY, { willRetry: 2 });
		emulator.advanceToEnd(tx.id);
		await trigger.waitForItems(3);
		await staysTrue(() => expect(transitions(trigger)).toEqual(['PENDING#0', 'PENDING#1', 'PENDING#2']));
	});

	test('txIds and chainIds: only the listed transactions, only on the listed chains', async () => {
		const base = emulator.submit(API_KEY, { chainId: 8453 });
		const arbitrum = emulator.submit(API_KEY, { chainId: 42161 });
		const optimism = emulator.submit(API_KEY, { chainId: 10 });
		const byId = await activate({ txIds: `${base.id},  ${optimism.id}\n` });
		const byChain = await activate({ chainIds: '8453, 42161' });
		for (const tx of [base, arbitrum, optimism]) emulator.advanceToEnd(tx.id);
		await byId.waitForItems(4);
		await byChain.waitForItems(4);
		await staysTrue(() => {
			expect(new Set(byId.items().map((i) => i.id))).toEqual(new Set([base.id, optimism.id]));
			expect(byId.items()).toHaveLength(4);
			expect(new Set(byChain.items().map((i) => i.chainId))).toEqual(new Set([8453, 42161]));
			expect(byChain.items()).toHaveLength(4);
		});
	});

	test('chain IDs that are not numbers are a clear error at activation', async () => {
		const error = await activateTriggerExpectingError({ nodeType: new TachyonTrigger(), parameters: parameters({ chainIds: '8453, base' }), credentials: credentials() });
		expect((error.cause as Error).name).toBe('NodeOperationError');
		expect(error.message).toContain('Chain IDs must be positive whole numbers; "base" is not');
		expect(emulator.stats.connectionsAccepted).toBe(0);
	});
});

describe('exactly once', () => {
	test('a frame the server repeats verbatim is emitted once', async () => {
		const trigger = await activate();
		const tx = emulator.submit(API_KEY);
		emulator.advance(tx.id);
		const pending = emulator.frameOf(tx.id);
		emulator.sendRawToAll(pending);
		emulator.sendRawToAll(pending);
		emulator.advance(tx.id);
		await trigger.waitForItems(3);
		await staysTrue(() => expect(transitions(trigger)).toEqual(['NOT_PICKED_UP#0', 'PENDING#0', 'EXECUTED#0']));
	});

	test('a status the table does not know passes through as pending, not final', async () => {
		const trigger = await activate();
		emulator.sendRawToAll(JSON.stringify({ txId: '68fa3450539a3c9d28bbca99', status: 'SIMULATING', chainId: 8453, retries: 0 }));
		const [item] = await trigger.waitForItems(1);
		expect(item).toMatchObject({ status: 'SIMULATING', phase: 'pending', isFinal: false });
		expect(trigger.errors).toEqual([]);
	});

	test("other accounts' transactions never reach this trigger", async () => {
		const trigger = await activate();
		const foreign = emulator.submit(OTHER.apiKey);
		emulator.advanceToEnd(foreign.id);
		const mine = emulator.submit(API_KEY);
		await trigger.waitForItems(1);
		await staysTrue(() => expect(trigger.items().map((i) => i.id)).toEqual([mine.id]));
	});
});

describe('reconnect', () => {
	test('transactions seen but not final are reconciled over REST; final ones are not read again', async () => {
		const trigger = await activate();
		const open = emulator.submit(API_KEY, { willRetry: 1 });
		const done = emulator.submit(API_KEY);
		emulator.advanceToEnd(done.id);
		emulator.advance(open.id); // PENDING#0
		await trigger.waitForItems(5);
		emulator.dropAllConnections();
		emulator.advance(open.id); // NEEDS_TO_BE_RETRIED#1, while nobody listens
		await eventually(() => expect(transitions(trigger, open.id)).toContain('NEEDS_TO_BE_RETRIED#1'), 5000);
		expect(emulator.stats.connectionsAccepted).toBe(2);
		expect(emulator.stats.transactionReads).toBe(1);
		emulator.advanceToEnd(open.id);
		await eventually(() => expect(transitions(trigger, open.id)).toEqual(['NOT_PICKED_UP#0', 'PENDING#0', 'NEEDS_TO_BE_RETRIED#1', 'PENDING#1', 'EXECUTED#1']));
		expect(transitions(trigger, done.id)).toEqual(['NOT_PICKED_UP#0', 'PENDING#0', 'EXECUTED#0']);
		expect(trigger.errors).toEqual([]);
	});

	test('a transaction the service does not know does not stop the reconcile of the others', async () => {
		const trigger = await activate();
		const ghostId = '0123456789abcdef01234567';
		emulator.sendRawToAll(JSON.stringify({ txId: ghostId, status: 'PENDING', retries: 0 }));
		const real = emulator.submit(API_KEY);
		await trigger.waitForItems(2);
		emulator.dropAllConnections();
		emulator.advance(real.id);
		await eventually(() => expect(transitions(trigger, real.id)).toEqual(['NOT_PICKED_UP#0', 'PENDING#0']), 5000);
		expect(engineLogs.messages('warn').join('\n')).toMatch(new RegExp(`could not reconcile transaction ${ghostId} .*HTTP 404: Transaction not found`));
		expect(trigger.errors).toEqual([]);
	});

	test('a REST answer overtaken by the socket is not emitted out of order', async () => {
		const trigger = await activate();
		const tx = emulator.submit(API_KEY, { willRetry: 1 });
		await trigger.waitForItems(1);
		const requests = countOutgoingRequests();
		try {
			emulator.dropAllConnections();
			emulator.advance(tx.id); // PENDING#0, missed: the reconcile will read it
			emulator.setRestDelayMs(400);
			await eventually(() => expect(emulator.stats.transactionReads).toBe(1), 5000);
			emulator.advance(tx.id); // NEEDS_TO_BE_RETRIED#1 reaches the socket before REST answers PENDING#0
			await trigger.waitForItems(2);
			// The overtaken REST answer (PENDING#0) has reached the trigger before the transaction moves on.
			await eventually(() => expect(requests.answered).toBe(1), 5000);
			expect(transitions(trigger)).toEqual(['NOT_PICKED_UP#0', 'NEEDS_TO_BE_RETRIED#1']);
			// The counter sees the reconnect's upgrade as well as the REST read (other tests count on both).
			expect(requests.started).toBe(2);
		} finally {
			requests.stop();
		}
		emulator.advanceToEnd(tx.id);
		await trigger.waitForItems(4);
		await staysTrue(() => expect(transitions(trigger)).toEqual(['NOT_PICKED_UP#0', 'NEEDS_TO_BE_RETRIED#1', 'PENDING#1', 'EXECUTED#1']));
	});

	test('with a txIds filter, only the listed transactions are reconciled', async () => {
		const watched = emulator.submit(API_KEY);
		const trigger = await activate({ txIds: watched.id });
		emulator.submit(API_KEY);
		emulator.advance(watched.id);
		// Frames come in order on the one socket: the unlisted transaction's frame was handled before this item.
		await trigger.waitForItems(1);
		emulator.dropAllConnections();
		emulator.advance(watched.id);
		await trigger.waitForItems(2, 5000);
		expect(emulator.stats.transactionReads).toBe(1);
		expect(transitions(trigger)).toEqual(['PENDING#0', 'EXECUTED#0']);
	});
});

describe('manual mode ("Listen for test event")', () => {
	test('emits the first matching event, then stops listening', async () => {
		const tx = emulator.submit(API_KEY, { willRetry: 1 });
		later(200, () => emulator.advanceToEnd(tx.id));
		const run = await runManually({ nodeType: new TachyonTrigger(), parameters: parameters({ statuses: ['EXECUTED'] }), credentials: credentials() });
		expect(run.error).toBeUndefined();
		expect(run.items).toEqual([expect.objectContaining({ id: tx.id, status: 'EXECUTED', source: 'tachyon' })]);
		await eventually(() => expect(emulator.openConnectionCount()).toBe(0));
	});

	test('a wrong WebSocket key is a node error in the editor, not a hang', async () => {
		const run = await runManually({ nodeType: new TachyonTrigger(), parameters: parameters(), credentials: credentials({ wsKey: 'ws_wrong_key_4455' }) });
		expect(run.error?.message).toMatch(/Tachyon refused the WebSocket key \("Unauthorized"\)/);
		expect(run.error?.message).not.toContain('ws_wrong_key_4455');
	});
});
