/**
 * Tachyon action node's waits, inside n8n's engine over real HTTP and WebSocket to the emulator:
 * Wait for Transaction (the SDK's waitForExecutionHash, over the WebSocket with REST polling beside
 * it), Relay and Wait (POST /api/submit-tx-sync), and the relay body's isAuthenticatedTx,
 * derivationPath and authorizationList.
 */
import type { INodeExecutionData } from 'n8n-workflow';

import { TachyonEmulator } from '../emulators/tachyon';
import { Tachyon } from '../nodes/Tachyon/Tachyon.node';
import { parseSubmitTxRequest, submitTxSyncBody } from '../nodes/Tachyon/protocol';
import { engineLogs, runManually } from './helpers/n8nEngine';
import { TestScope } from './helpers/testScope';
import { emulatorPerTest } from './helpers/emulatorPerTest';
import { activeTimerCount, eventually } from './helpers/wait';

const scope = new TestScope();
const { later } = scope;

const API_KEY = 'tachyon-wait-key-0b7e55';
const JWT = 'eyJhbGciOiJIUzI1NiJ9.dGFjaHlvbi13YWl0.c2lnbmF0dXJlNQ';
const WS_KEY = 'ws_wait_91d3c6a2e4';
const SECRETS = [API_KEY, JWT, WS_KEY];
const TO = '0x3dbE34f2C21b3B2980d4dc53f3c7E51e39663F49';
const AUTHORIZATION = {
	chainId: 8453,
	address: '0xd6CEDDe84be40893d153Be9d467CD6aD37875b28',
	nonce: 7,
	r: `0x${'1a'.repeat(32)}`,
	s: `0x${'2b'.repeat(32)}`,
	yParity: 1,
};
let emulator: TachyonEmulator;

async function startEmulator(stepMs = 0) {
	emulator = await TachyonEmulator.start({ stepMs, accounts: [{ apiKey: API_KEY, dashboardJwt: JWT, wsKey: WS_KEY }] });
}

async function run(parameters: Record<string, unknown>, options: { credentials?: Record<string, string>; input?: INodeExecutionData[] } = {}) {
	return await runManually(
		{ nodeType: new Tachyon(), parameters: parameters as never, credentials: { tachyonApi: { baseUrl: emulator.baseUrl, apiKey: API_KEY, ...options.credentials } } },
		options.input ?? [{ json: {} }],
	);
}

const wait = (txId: string, overrides: Record<string, unknown> = {}) => ({ operation: 'waitForTransaction', txId, timeoutSeconds: 10, options: {}, ...overrides });
const relayAndWait = (overrides: Record<string, unknown> = {}, additionalFields: Record<string, unknown> = {}) => ({
	operation: 'relayAndWait',
	chainId: 8453,
	to: TO,
	callData: '0x',
	value: '1',
	additionalFields,
	syncTimeoutSeconds: 10,
	...overrides,
});
const exposed = (result: Awaited<ReturnType<typeof run>>) => JSON.stringify(result.items) + JSON.stringify(result.error) + String(result.error?.message);

emulatorPerTest({ scope, start: async () => await startEmulator(), close: async () => await emulator.close(), secrets: SECRETS, clearEngineLogs: true });

describe('waitForTransaction', () => {
	test('with the API key alone: registers, hears the final status over the WebSocket, returns it as Get Transaction does', async () => {
		const tx = emulator.submit(API_KEY, { willRetry: 1 });
		later(300, () => emulator.advanceToEnd(tx.id));
		const started = Date.now();
		// Polling every 60 s: only the WebSocket can end this wait within the test.
		const result = await run(wait(tx.id, { options: { pollIntervalSeconds: 60 } }));
		expect(result.error).toBeUndefined();
		expect(Date.now() - started).toBeLessThan(5000);
		const [item] = result.items;
		expect(item).toMatchObject({ source: 'tachyon', id: tx.id, status: 'EXECUTED', phase: 'succeeded', isFinal: true });
		expect(item.txHash).toMatch(/^0x[0-9a-f]{64}$/);
		// The REST object's fields, which a notification does not carry.
		expect(item.details).toMatchObject({ to: TO, retries: 1, transactionType: 'flash' });
		expect(emulator.stats).toMatchObject({ registrationsByApiKey: 1, connectionsAccepted: 1, transactionReads: 2 });
		await eventually(() => expect(emulator.openConnectionCount()).toBe(0));
		expect(exposed(result)).not.toContain(WS_KEY);
	});

	test('a transaction that is final already is returned at once by the first REST read', async () => {
		const tx = emulator.submit(API_KEY);
		emulator.advanceToEnd(tx.id);
		const result = await run(wait(tx.id), { credentials: { wsKey: WS_KEY, wsUrl: emulator.wsUrl } });
		expect(result.items).toEqual([expect.objectContaining({ id: tx.id, status: 'EXECUTED' })]);
		await eventually(() => expect(emulator.openConnectionCount()).toBe(0));
	});

	test('WebSocket unavailable: REST polling alone finds the final status', async () => {
		emulator.setRefuseUpgrades(503);
		const tx = emulator.submit(API_KEY);
		later(300, () => emulator.advanceToEnd(tx.id));
		const result = await run(wait(tx.id, { options: { pollIntervalSeconds: 1 } }), { credentials: { wsKey: WS_KEY, wsUrl: emulator.wsUrl } });
		expect(result.items).toEqual([expect.objectContaining({ id: tx.id, status: 'EXECUTED' })]);
		expect(emulator.stats.transactionReads).toBeGreaterThanOrEqual(2);
		expect(engineLogs.messages('warn').join('\n')).toMatch(/Tachyon WebSocket unavailable while waiting for transaction .*polling instead/);
	});

	test('FAILED fails the node by default, with the reason; with the option off it is the output', async () => {
		const tx = emulator.submit(API_KEY, { willFail: true });
		emulator.advanceToEnd(tx.id);
		const failed = await run(wait(tx.id));
		expect(failed.error?.name).toBe('NodeOperationError');
		expect(failed.error?.message).toBe(`Tachyon transaction ${tx.id} failed: execution reverted`);
		const output = await run(wait(tx.id, { failOnTransactionFailure: false }));
		expect(output.items).toEqual([expect.objectContaining({ id: tx.id, status: 'FAILED', phase: 'failed', error: 'execution reverted' })]);
	});

	test('not final before the timeout: a clear error with the last status; nothing is left running', async () => {
		const timersBefore = activeTimerCount();
		const tx = emulator.submit(API_KEY);
		emulator.advance(tx.id);
		const result = await run(wait(tx.id, { timeoutSeconds: 1 }));
		expect(result.error?.name).toBe('NodeOperationError');
		expect(result.error?.message).toBe(`Tachyon transaction ${tx.id} was not final after 1 s (its last status was PENDING)`);
		await eventually(() => expect(emulator.openConnectionCount()).toBe(0));
		await eventually(() => expect(activeTimerCount()).toBe(timersBefore));
	});

	test('an unknown transaction is the service\'s 404 at once, not a wait until the timeout', async () => {
		const started = Date.now();
		const result = await run(wait('ffffffffffffffffffffffff', { timeoutSeconds: 30 }));
		expect(result.error?.name).toBe('NodeApiError');
		expect(result.error?.message).toBe('Reading Tachyon transaction ffffffffffffffffffffffff failed with HTTP 404: Transaction not found');
		expect(Date.now() - started).toBeLessThan(5000);
		await eventually(() => expect(emulator.openConnectionCount()).toBe(0));
	});
});

describe('relayAndWait', () => {
	test('submit-tx-sync: the server holds the request until the transaction is final; the output is the normalized item', async () => {
		await emulator.close();
		await startEmulator(30);
		const result = await run(relayAndWait({}, { label: 'sync payout' }));
		expect(result.error).toBeUndefined();
		const [item] = result.items;
		expect(item).toMatchObject({ source: 'tachyon', status: 'EXECUTED', phase: 'succeeded', isFinal: true, chainId: 8453 });
		expect(item.details).toMatchObject({ label: 'sync payout', to: TO });
		expect(emulator.stats.syncSubmissions).toBe(1);
		expect(emulator.submittedBodies).toEqual([{ chainId: 8453, to: TO, callData: '0x', value: '1', label: 'sync payout' }]);
		expect(exposed(result)).not.toContain(API_KEY);
	});

	test('Include Receipt reaches the service and the receipt comes back in details', async () => {
		await emulator.close();
		await startEmulator(20);
		const executed = await run(relayAndWait({ syncOptions: { includeReceipt: true } }));
		expect(executed.items[0].details).toMatchObject({ receipt: expect.objectContaining({ status: 'success' }) });
	});

	test('not final within the server wait: the latest status is the output, isFinal false', async () => {
		const result = await run(relayAndWait({ syncTimeoutSeconds: 1 }));
		expect(result.error).toBeUndefined();
		expect(result.items[0]).toMatchObject({ status: 'NOT_PICKED_UP', isFinal: false });
	});

	test('FAILED fails the node by default; with the option off it is the output, with the revert info asked for', async () => {
		await emulator.close();
		await startEmulator(20);
		emulator.setRestSubmitPlan({ willFail: true });
		const failing = relayAndWait({ syncOptions: { includeRevertInfo: true } });
		const failed = await run(failing);
		expect(failed.error?.name).toBe('NodeOperationError');
		expect(failed.error?.message).toMatch(/^Tachyon transaction [0-9a-f]{24} failed: execution reverted$/);
		const output = await run({ ...failing, failOnTransactionFailure: false });
		expect(output.items[0]).toMatchObject({ status: 'FAILED', phase: 'failed', error: 'execution reverted', details: { revertInfo: { reason: 'execution reverted' } } });
	});

	test('the sync body: the checked request under tx, the wait within the documented bounds, flags only when on', () => {
		const parsed = parseSubmitTxRequest({ chainId: 8453, to: TO, callData: '0x', value: '1' });
		if (!parsed.ok) throw new Error(parsed.message);
		expect(submitTxSyncBody(parsed.request, { timeoutMs: 30_000 })).toEqual({ tx: { chainId: 8453, to: TO, callData: '0x', value: '1' }, timeoutMs: 30_000 });
		expect(submitTxSyncBody(parsed.request, { timeoutMs: 1000, includeReceipt: true, includeRevertInfo: false })).toMatchObject({ timeoutMs: 1000, includeReceipt: true });
		expect(() => submitTxSyncBody(parsed.request, { timeoutMs: 999 })).toThrow(RangeError);
		expect(() => submitTxSyncBody(parsed.request, { timeoutMs: 120_001 })).toThrow(RangeError);
	});

	test('a server wait outside 1–120 s is a clear error and nothing is sent', async () => {
		const result = await run(relayAndWait({ syncTimeoutSeconds: 121 }));
		expect(result.error?.name).toBe('NodeOperationError');
		expect(result.error?.message).toBe('Server Wait must be between 1 and 120 seconds, not 121');
		expect(emulator.stats.restRequests).toBe(0);
	});
});

describe('relay body: isAuthenticatedTx, derivationPath, authorizationList', () => {
	test.each(['relayTransaction', 'relayAndWait'])('%s sends them as given, the list parsed from JSON', async (operation) => {
		const result = await run({
			...relayAndWait({ operation, syncTimeoutSeconds: 1 }),
			additionalFields: { isAuthenticatedTx: true, derivationPath: "m/44'/60'/0'/0/1", authorizationList: JSON.stringify([AUTHORIZATION]) },
		});
		expect(result.error).toBeUndefined();
		expect(emulator.submittedBodies).toEqual([
			{ chainId: 8453, to: TO, callData: '0x', value: '1', isAuthenticatedTx: true, derivationPath: "m/44'/60'/0'/0/1", authorizationList: [AUTHORIZATION] },
		]);
	});

	test('an expression giving the list as an array works too; "off" is not sent', async () => {
		const result = await run(
			{ ...relayAndWait({ operation: 'relayTransaction' }), additionalFields: { isAuthenticatedTx: false, authorizationList: '={{ $json.authorizations }}' } },
			{ input: [{ json: { authorizations: [{ ...AUTHORIZATION, nonce: '8' }] } }] },
		);
		expect(result.error).toBeUndefined();
		expect(emulator.submittedBodies[0]).toEqual({ chainId: 8453, to: TO, callData: '0x', value: '1', authorizationList: [{ ...AUTHORIZATION, nonce: 8 }] });
	});

	test.each([
		['cut-off JSON', '[{"chainId": 8453,', 'Authorization List is not valid JSON'],
		['an object', '{"chainId": 8453}', 'Authorization List must be a JSON array of authorizations'],
		['an empty array', '[]', 'Authorization List is empty: leave it out, or give at least one authorization'],
		['yParity 2 in the second', JSON.stringify([AUTHORIZATION, { ...AUTHORIZATION, yParity: 2 }]), 'authorization yParity must be 0 or 1 (authorizationList[1])'],
		['a short address', JSON.stringify([{ ...AUTHORIZATION, address: '0x1234' }]), 'authorization address must be a 0x-prefixed 20-byte hex address (authorizationList[0])'],
		['an unknown field', JSON.stringify([{ ...AUTHORIZATION, v: 27 }]), 'Unknown field(s) (authorizationList[0]): v'],
		['missing fields', JSON.stringify([{ address: AUTHORIZATION.address }]), 'authorization chainId is required (authorizationList[0])'],
	])('authorization list with %s: a clear error, nothing sent', async (_label, list, message) => {
		const result = await run({ ...relayAndWait({ operation: 'relayTransaction' }), additionalFields: { authorizationList: list } });
		expect(result.error?.name).toBe('NodeOperationError');
		expect(result.error?.message).toBe(message);
		expect(emulator.stats.restRequests).toBe(0);
	});

	test('a derivation path with spaces is refused before sending', async () => {
		const result = await run({ ...relayAndWait({ operation: 'relayAndWait' }), additionalFields: { derivationPath: "m/44'/60' /0" } });
		expect(result.error?.message).toBe('Derivation Path cannot contain spaces');
		expect(emulator.stats.restRequests).toBe(0);
	});
});
