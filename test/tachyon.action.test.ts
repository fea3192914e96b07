/**
 * Tachyon action node inside n8n's engine (WorkflowExecute in manual mode, input items pinned), over
 * real HTTP to the Tachyon emulator: Register WebSocket, Relay Transaction, Get Transaction.
 */
import type { INodeExecutionData, NodeApiError } from 'n8n-workflow';

import { TachyonEmulator } from '../emulators/tachyon';
import { Tachyon } from '../nodes/Tachyon/Tachyon.node';
import { engineLogs, runManually } from './helpers/n8nEngine';

const API_KEY = 'tachyon-action-key-6e2a90';
const JWT = 'eyJhbGciOiJIUzI1NiJ9.dGFjaHlvbi1hY3Rpb24.c2lnbmF0dXJlMw';
const WS_KEY = 'ws_action_5d8c3b1a7f';
const SECRETS = [API_KEY, JWT, WS_KEY];
const TO = '0x3dbE34f2C21b3B2980d4dc53f3c7E51e39663F49';
let emulator: TachyonEmulator;

const credentials = (overrides: Record<string, string> = {}) => ({
	tachyonApi: { baseUrl: emulator.baseUrl, apiKey: API_KEY, dashboardJwt: JWT, wsUrl: '', wsKey: '', ...overrides },
});

async function run(
	parameters: Record<string, unknown>,
	options: { input?: INodeExecutionData[]; credentials?: Record<string, string>; continueOnFail?: boolean } = {},
) {
	return await runManually(
		{ nodeType: new Tachyon(), parameters: parameters as never, credentials: credentials(options.credentials), continueOnFail: options.continueOnFail },
		options.input ?? [{ json: {} }],
	);
}

const relay = (overrides: Record<string, unknown> = {}, additionalFields: Record<string, unknown> = {}) => ({
	operation: 'relayTransaction',
	chainId: 8453,
	to: TO,
	callData: '0xa9059cbb',
	value: '1000',
	additionalFields,
	...overrides,
});

/** Everything a run exposes to the user: output, error, and its serialized form. */
const exposed = (result: Awaited<ReturnType<typeof run>>) => JSON.stringify(result.items) + JSON.stringify(result.error) + String(result.error?.message);

beforeEach(async () => {
	emulator = await TachyonEmulator.start({ accounts: [{ apiKey: API_KEY, dashboardJwt: JWT, wsKey: WS_KEY }] });
});

afterEach(async () => {
	await emulator.close();
});

afterAll(() => {
	const logs = engineLogs.text();
	for (const secret of SECRETS) expect(logs).not.toContain(secret);
});

describe('registerWebsocket', () => {
	test('returns the WebSocket URL and key: the one output that carries a key', async () => {
		const result = await run({ operation: 'registerWebsocket' });
		expect(result.error).toBeUndefined();
		expect(result.items).toEqual([{ wsUrl: emulator.wsUrl, wsKey: WS_KEY }]);
		expect(emulator.stats.registrations).toBe(1);
	});

	test('a refused JWT is the service\'s error, without the JWT; without a JWT the API key registers', async () => {
		const refused = await run({ operation: 'registerWebsocket' }, { credentials: { dashboardJwt: 'not.a.valid-jwt' } });
		expect(refused.error?.name).toBe('NodeApiError');
		expect(refused.error?.message).toBe('Registering the WebSocket (with the dashboard JWT) failed with HTTP 401: Malformed or invalid JWT');
		expect(exposed(refused)).not.toContain('not.a.valid-jwt');

		expect(emulator.stats.registrations).toBe(0);
		const byApiKey = await run({ operation: 'registerWebsocket' }, { credentials: { dashboardJwt: '' } });
		expect(byApiKey.error).toBeUndefined();
		expect(byApiKey.items).toEqual([{ wsUrl: emulator.wsUrl, wsKey: WS_KEY }]);
		expect(emulator.stats).toMatchObject({ registrations: 1, registrationsByApiKey: 1, registrationsByJwt: 0 });
	});
});

describe('relayTransaction', () => {
	test('submits the documented fields and returns the txId and estimated cost', async () => {
		const result = await run(
			relay({}, { label: 'payout #7', maxFeePerGas: '20000000000', maxPriorityFeePerGas: '2000000000', gasLimit: '65000', maxUSD: 1.5, retries: 2, transactionType: 'flash' }),
		);
		expect(result.error).toBeUndefined();
		expect(result.items).toEqual([{ txId: expect.stringMatching(/^[0-9a-f]{24}$/), estimatedCostUSD: 0.84 }]);
		const tx = emulator.getTransaction(result.items[0].txId as string);
		expect(tx).toMatchObject({
			chainId: 8453,
			to: TO,
			callData: '0xa9059cbb',
			value: '1000',
			label: 'payout #7',
			gasLimit: '65000',
			maxFeePerGas: '20000000000',
			maxPriorityFeePerGas: '2000000000',
			gasPrice: null,
			status: 'NOT_PICKED_UP',
		});
		expect(exposed(result)).not.toContain(API_KEY);
	});

	test.each([
		[{ callData: 'a9059cbb' }, {}, 'Call Data must be hex bytes starting with 0x ("0x" for a plain transfer)'],
		[{ value: '0.5' }, {}, 'Value must be a whole number in the chain\'s smallest unit, written as digits only (e.g. "21000")'],
		[{ to: '={{ "  " }}' }, {}, 'To (the destination address) is required'],
		[{}, { maxFeePerGas: '20000000000' }, 'Max Fee Per Gas and Max Priority Fee Per Gas must be given together, or neither'],
		[{}, { gasPrice: '1', maxFeePerGas: '2', maxPriorityFeePerGas: '1' }, 'Gas Price (legacy) cannot be combined with Max Fee Per Gas / Max Priority Fee Per Gas (EIP-1559): choose one'],
		[{ chainId: '={{ "base" }}' }, {}, 'Chain ID must be a number'],
	])('invalid input %j %j is a clear error and nothing is sent', async (overrides, additional, message) => {
		const before = emulator.stats.restRequests;
		const result = await run(relay(overrides, additional));
		expect(result.error?.name).toBe('NodeOperationError');
		expect(result.error?.message).toBe(message);
		expect(emulator.stats.restRequests).toBe(before);
	});

	test('an empty Value sends "0"; what the service refuses is a NodeApiError with its message', async () => {
		const zero = await run(relay({ value: '' }));
		expect(emulator.getTransaction(zero.items[0].txId as string)?.value).toBe('0');
		const unsupported = await run(relay({ chainId: 999 }));
		expect(unsupported.error?.name).toBe('NodeApiError');
		expect(unsupported.error?.message).toBe('Relaying the transaction failed with HTTP 400: Invalid or unsupported chain ID: 999');
	});

	test('a wrong API key is a NodeApiError without the key', async () => {
		const result = await run(relay(), { credentials: { apiKey: 'wrong-api-key-9999' } });
		expect(result.error?.name).toBe('NodeApiError');
		expect(result.error?.message).toBe('Relaying the transaction failed with HTTP 401: Invalid API key');
		expect(exposed(result)).not.toContain('wrong-api-key-9999');
	});

	test('several input items are relayed one by one, each paired to its item', async () => {
		const result = await run(relay({ to: '={{ $json.to }}', additionalFields: { label: '={{ $json.label }}' } }), {
			input: [{ json: { to: TO, label: 'a' } }, { json: { to: 'alice.near', label: 'b' } }],
		});
		expect(result.items).toHaveLength(2);
		expect(result.output.map((o) => o.pairedItem)).toEqual([{ item: 0 }, { item: 1 }]);
		expect(result.items.map((i) => emulator.getTransaction(i.txId as string)?.label)).toEqual(['a', 'b']);
	});
});

describe('getTransaction', () => {
	test('returns the normalized item of the REST object', async () => {
		const tx = emulator.submit(API_KEY, { willRetry: 1, chainId: 42161 });
		emulator.advanceToEnd(tx.id);
		const result = await run({ operation: 'getTransaction', txId: tx.id });
		expect(result.error).toBeUndefined();
		const [item] = result.items;
		expect(item).toMatchObject({ source: 'tachyon', id: tx.id, status: 'EXECUTED', phase: 'succeeded', isFinal: true, chainId: 42161, error: null });
		expect(item.txHash).toMatch(/^0x[0-9a-f]{64}$/);
		expect(item.occurredAt).toBe(tx.timestamp);
		expect(item.details).toMatchObject({ retries: 1, costUSD: 0.84, transactionType: 'flash', to: tx.to });
	});

	test('unknown, missing and malformed ids are clear errors', async () => {
		const unknown = await run({ operation: 'getTransaction', txId: 'ffffffffffffffffffffffff' });
		expect(unknown.error?.name).toBe('NodeApiError');
		expect(unknown.error?.message).toBe('Reading Tachyon transaction ffffffffffffffffffffffff failed with HTTP 404: Transaction not found');
		// n8n itself refuses an empty required field; an expression that resolves to nothing reaches the node.
		const missing = await run({ operation: 'getTransaction', txId: '={{ $json.nothing }}' });
		expect(missing.error?.message).toBe('No transaction ID given');
		const malformed = await run({ operation: 'getTransaction', txId: 'two ids' });
		expect(malformed.error?.message).toBe('"two ids" is not a Tachyon transaction ID');
	});

	test('with "continue on fail", a bad item becomes an error item and the others go on', async () => {
		const tx = emulator.submit(API_KEY);
		const result = await run({ operation: 'getTransaction', txId: '={{ $json.id }}' }, { continueOnFail: true, input: [{ json: { id: 'no such' } }, { json: { id: tx.id } }] });
		expect(result.items).toEqual([{ error: '"no such" is not a Tachyon transaction ID' }, expect.objectContaining({ id: tx.id, status: 'NOT_PICKED_UP' })]);
	});

	test('an unreachable service is a clear error naming the URL, without the key', async () => {
		await emulator.close();
		const result = await run({ operation: 'getTransaction', txId: 'ffffffffffffffffffffffff' });
		expect(result.error?.name).toBe('NodeApiError');
		expect((result.error as NodeApiError).description).toMatch(/Could not reach GET http:\/\/127\.0\.0\.1:\d+\/api\/tx\?id=f{24}.*ECONNREFUSED/);
		for (const secret of SECRETS) expect(exposed(result)).not.toContain(secret);
		emulator = await TachyonEmulator.start({ accounts: [{ apiKey: API_KEY, dashboardJwt: JWT, wsKey: WS_KEY }] });
	});

	test('a credential with a base URL that is not http(s) is a clear error', async () => {
		const result = await run({ operation: 'getTransaction', txId: 'ffffffffffffffffffffffff' }, { credentials: { baseUrl: 'tachyon.rath.fi' } });
		expect(result.error?.name).toBe('NodeOperationError');
		expect(result.error?.message).toContain('base URL "tachyon.rath.fi" is not an http(s) URL');
	});
});
