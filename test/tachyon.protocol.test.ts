/**
 * Tachyon protocol module on its own: frame classification for every documented shape, the
 * normalizer, transition keys, REST envelopes and the submit-tx validation.
 */
import {
	classifyFrame,
	normalizeTachyonTransaction,
	parseSubmitTxRequest,
	transactionSchema,
	transitionKeyOf,
	unwrapEnvelope,
} from '../nodes/Tachyon/protocol';

const notification = {
	txId: '68fa3450539a3c9d28bbca33',
	chainId: 8453,
	status: 'EXECUTED',
	costUSD: 0.8400561743999754,
	totalNativeTokenUsed: '1000000000000000',
	gasPrice: '1000000000',
	txHash: '0xabcdef1234567890abcdef1234567890abcdef1234567890abcdef1234567890',
	submittedAt: '2025-10-23T13:57:36.672Z',
	updatedAt: '2025-10-23T13:57:39.172Z',
	retries: 0,
};

const restObject = {
	id: '68fa3450539a3c9d28bbca33',
	userId: '68c275846a6ba1c9a2198a8c',
	to: '0x3dbE34f2C21b3B2980d4dc53f3c7E51e39663F49',
	callData: '0x',
	value: '1',
	chainId: 8453,
	status: 'FAILED',
	executionTxHash: null,
	timestamp: '2025-10-23T13:57:36.672Z',
	costUSD: null,
	retries: 2,
	error: 'execution reverted',
	transactionType: 'flash',
};

const RECEIVED_AT = '2030-01-01T00:00:00.000Z';

describe('classifyFrame', () => {
	test.each([
		['bare', notification],
		['notification', { type: 'notification', data: notification }],
		['legacy', { event: 'transaction.status_changed', timestamp: '2025-10-23T13:57:39Z', data: restObject }],
		['bare', { ...restObject, extraField: { nested: true } }],
	])('recognises a %s transaction update', (shape, frame) => {
		const classified = classifyFrame(frame);
		expect(classified).toMatchObject({ kind: 'tx-update', shape });
		if (classified.kind !== 'tx-update') throw new Error('not an update');
		expect(classified.transaction.txId ?? classified.transaction.id).toBe('68fa3450539a3c9d28bbca33');
	});

	test('greetings are system frames; echoes and raw frames are echoes', () => {
		expect(classifyFrame({ message: 'WebSocket connected!' })).toEqual({ kind: 'system', message: 'WebSocket connected!' });
		expect(classifyFrame({ type: 'system', data: { message: 'Connection established successfully' } })).toEqual({
			kind: 'system',
			message: 'Connection established successfully',
		});
		expect(classifyFrame({ echo: 'client message' })).toEqual({ kind: 'echo' });
		expect(classifyFrame({ echo: '{"type":"ping"}' })).toEqual({ kind: 'echo' });
		expect(classifyFrame({ type: 'raw', data: 'anything' })).toEqual({ kind: 'echo' });
	});

	test.each([
		[{ message: 'Unauthorized' }, 'Unauthorized'],
		[{ type: 'system', data: { message: 'Unauthorized: missing or invalid x-ws-token' } }, 'Unauthorized: missing or invalid x-ws-token'],
		[{ error: 'Unauthorized' }, 'Unauthorized'],
		[{ type: 'unauthorized' }, 'unauthorized'],
		[{ type: 'error', error: { code: 'AUTH_001', message: 'Unauthorised' } }, 'Unauthorised'],
	])('an unauthorized message in any field is recognised: %j', (frame, message) => {
		expect(classifyFrame(frame)).toEqual({ kind: 'unauthorized', message });
	});

	test('a failed transaction whose error reads "Unauthorized" is an update, not a refusal', () => {
		const frame = { ...notification, status: 'FAILED', error: 'execution reverted: Unauthorized' };
		expect(classifyFrame(frame).kind).toBe('tx-update');
		expect(classifyFrame({ echo: 'Unauthorized' }).kind).toBe('echo');
	});

	test.each([
		[[1, 2], 'a frame that is not a JSON object'],
		[{ type: 'notification', data: { status: 'PENDING' } }, '"notification" frame: txId a transaction needs "txId" or "id"'],
		[{ type: 'notification', data: { txId: 'a' } }, '"notification" frame: status Required'],
		[{ status: 'PENDING', chainId: 1 }, 'a transaction frame without "txId" or "id"'],
		[{ type: 'subscribed' }, 'a frame with type "subscribed"'],
		[{ foo: 1, bar: 2 }, 'a frame with fields foo, bar'],
	])('malformed or unknown frames are reported, not thrown: %j', (frame, reason) => {
		expect(classifyFrame(frame)).toEqual({ kind: 'unknown', reason });
	});
});

describe('normalizer and transition keys', () => {
	test('a WebSocket notification becomes the contract item', () => {
		const tx = transactionSchema.parse(notification);
		expect(normalizeTachyonTransaction(tx, RECEIVED_AT)).toEqual({
			source: 'tachyon',
			id: '68fa3450539a3c9d28bbca33',
			status: 'EXECUTED',
			phase: 'succeeded',
			isFinal: true,
			progress: null,
			txHash: notification.txHash,
			blockHash: null,
			blockNumber: null,
			chainId: 8453,
			explorerUrl: null,
			error: null,
			occurredAt: '2025-10-23T13:57:39.172Z',
			receivedAt: RECEIVED_AT,
			details: {
				costUSD: notification.costUSD,
				totalNativeTokenUsed: '1000000000000000',
				gasPrice: '1000000000',
				submittedAt: '2025-10-23T13:57:36.672Z',
				updatedAt: '2025-10-23T13:57:39.172Z',
				retries: 0,
			},
		});
	});

	test('the REST object (id, executionTxHash, timestamp) normalizes the same way; FAILED carries its reason', () => {
		const item = normalizeTachyonTransaction(transactionSchema.parse({ ...restObject, executionTxHash: '0x12' }), RECEIVED_AT);
		expect(item).toMatchObject({ id: restObject.id, txHash: '0x12', phase: 'failed', isFinal: true, error: 'execution reverted', occurredAt: '2025-10-23T13:57:36.672Z' });
		expect(item.details).toMatchObject({ retries: 2, transactionType: 'flash', userId: restObject.userId });
		expect(item.details).not.toHaveProperty('id');
	});

	test('NEEDS_TO_BE_RETRIED is retrying; unknown statuses are pending and not final; numeric strings are read', () => {
		const retrying = normalizeTachyonTransaction(transactionSchema.parse({ txId: 'a', status: 'NEEDS_TO_BE_RETRIED', retries: '1', chainId: '10' }), RECEIVED_AT);
		expect(retrying).toMatchObject({ phase: 'retrying', isFinal: false, chainId: 10, error: null, occurredAt: RECEIVED_AT });
		expect(retrying.details.retries).toBe(1);
		const unknown = normalizeTachyonTransaction(transactionSchema.parse({ txId: 'a', status: 'SIMULATING' }), RECEIVED_AT);
		expect(unknown).toMatchObject({ status: 'SIMULATING', phase: 'pending', isFinal: false });
	});

	test('a failed transaction without a reason still says why', () => {
		const item = normalizeTachyonTransaction(transactionSchema.parse({ txId: 'a', status: 'FAILED', error: { code: 'X' } }), RECEIVED_AT);
		expect(item.error).toBe('{"code":"X"}');
		expect(normalizeTachyonTransaction(transactionSchema.parse({ txId: 'a', status: 'FAILED' }), RECEIVED_AT).error).toBe('Tachyon transaction FAILED');
	});

	test('the transition key tells a second PENDING (after a retry) from the first, and not a repeat', () => {
		const key = (frame: object) => transitionKeyOf(transactionSchema.parse(frame));
		expect(key({ txId: 'a', status: 'PENDING' })).toBe('PENDING#0');
		expect(key({ txId: 'a', status: 'PENDING', retries: 0 })).toBe('PENDING#0');
		expect(key({ txId: 'a', status: 'PENDING', retries: 1 })).toBe('PENDING#1');
	});
});

describe('REST envelopes', () => {
	test('success, failure and unwrapped bodies', () => {
		expect(unwrapEnvelope({ success: true, data: { txId: 'a' }, timestamp: 'x' })).toEqual({ ok: true, data: { txId: 'a' } });
		expect(unwrapEnvelope({ success: false, error: { code: 'AUTH_002', message: 'Invalid API key', category: 'AUTH' } })).toEqual({
			ok: false,
			message: 'Invalid API key',
			code: 'AUTH_002',
		});
		expect(unwrapEnvelope({ success: false, error: 'nope' })).toEqual({ ok: false, message: 'nope', code: null });
		expect(unwrapEnvelope({ userId: 'u', webhooks: [] })).toEqual({ ok: true, data: { userId: 'u', webhooks: [] } });
	});
});

describe('submit-tx validation', () => {
	const valid = { chainId: 8453, to: '0x3dbE34f2C21b3B2980d4dc53f3c7E51e39663F49', callData: '0x', value: '0' };

	test('a documented request passes, numbers typed as text included', () => {
		expect(parseSubmitTxRequest({ ...valid, chainId: '8453', gasLimit: 21000, maxFeePerGas: '20000000000', maxPriorityFeePerGas: '2000000000', maxUSD: 1.5, retries: 2 })).toEqual({
			ok: true,
			request: { ...valid, gasLimit: '21000', maxFeePerGas: '20000000000', maxPriorityFeePerGas: '2000000000', maxUSD: 1.5, retries: 2 },
		});
		expect(parseSubmitTxRequest({ ...valid, chainId: 10100000, to: 'So1anaBase58Address111111111111111111111111' }).ok).toBe(true);
	});

	test.each([
		[{ chainId: undefined }, 'Chain ID is required'],
		[{ chainId: 0 }, 'Chain ID must be a positive number, e.g. 8453 for Base'],
		[{ chainId: 'base' }, 'Chain ID must be a number'],
		[{ to: '  ' }, 'To (the destination address) is required'],
		[{ to: '0xZZ' }, 'To starts with 0x but is not a hex address'],
		[{ callData: 'a9059cbb' }, 'Call Data must be hex bytes starting with 0x ("0x" for a plain transfer)'],
		[{ callData: '0xabc' }, 'Call Data must be hex bytes starting with 0x ("0x" for a plain transfer)'],
		[{ value: '1.5' }, 'Value must be a whole number in the chain\'s smallest unit, written as digits only (e.g. "21000")'],
		[{ maxFeePerGas: '1' }, 'Max Fee Per Gas and Max Priority Fee Per Gas must be given together, or neither'],
		[{ maxFeePerGas: '1', maxPriorityFeePerGas: '1', gasPrice: '1' }, 'Gas Price (legacy) cannot be combined with Max Fee Per Gas / Max Priority Fee Per Gas (EIP-1559): choose one'],
		[{ maxUSD: -1 }, 'Max USD must be more than 0'],
		[{ retries: 1.5 }, 'Retries must be a whole number'],
		[{ surprise: true }, 'Unknown field(s): surprise'],
	])('%j is refused with a clear message', (change, message) => {
		expect(parseSubmitTxRequest({ ...valid, ...change })).toEqual({ ok: false, message });
	});
});
