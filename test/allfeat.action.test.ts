/**
 * Allfeat ATS action node inside n8n's engine (WorkflowExecute in manual mode, input items pinned),
 * over real HTTP and WebSocket to the Allfeat emulator on 127.0.0.1.
 */
import type { INodeExecutionData, NodeApiError } from 'n8n-workflow';

import { AllfeatEmulator } from '../emulators/allfeat';
import { AllfeatAts } from '../nodes/AllfeatAts/AllfeatAts.node';
import { runManually } from './helpers/n8nEngine';
import { activeTimerCount, eventually } from './helpers/wait';
import { TestScope } from './helpers/testScope';
import { emulatorPerTest } from './helpers/emulatorPerTest';

const scope = new TestScope();
const { later } = scope;

const KEY = `afo_sk_live_${'a1b2'.repeat(12)}`;
const UNKNOWN_ID = '11111111-2222-4333-8444-555555555555';
let emulator: AllfeatEmulator;

const credentials = (apiKey = KEY) => ({ allfeatAtsApi: { baseUrl: emulator.baseUrl, apiKey } });

async function run(parameters: Record<string, unknown>, options: { input?: INodeExecutionData[]; apiKey?: string; continueOnFail?: boolean } = {}) {
	return await runManually(
		{ nodeType: new AllfeatAts(), parameters: parameters as never, credentials: credentials(options.apiKey), continueOnFail: options.continueOnFail },
		options.input ?? [{ json: {} }],
	);
}

const wait = (transactionId: string, extra: Record<string, unknown> = {}) =>
	run({ operation: 'waitForTransaction', transactionId, timeoutSeconds: 10, failOnTransactionFailure: true, ...extra });

emulatorPerTest({
	scope,
	start: async () => (emulator = await AllfeatEmulator.start({ apiKeys: [KEY] })),
	close: async () => await emulator.close(),
	secrets: [KEY],
	clearEngineLogs: false,
});

describe('getTransaction', () => {
	test('returns the normalized item with the step history in details', async () => {
		const tx = emulator.createTransaction({ externalUserRef: 'user-42' });
		const done = emulator.advanceToEnd(tx.id);
		const result = await run({ operation: 'getTransaction', transactionId: tx.id });
		expect(result.error).toBeUndefined();
		expect(result.items).toHaveLength(1);
		const item = result.items[0];
		expect(item).toMatchObject({
			source: 'allfeat-ats',
			id: tx.id,
			status: 'completed',
			phase: 'succeeded',
			isFinal: true,
			progress: 100,
			txHash: done.result!.tx_hash,
			blockNumber: done.result!.block_number,
			explorerUrl: done.result!.explorer_url,
			occurredAt: done.updated_at,
		});
		expect(item.details).toMatchObject({
			transaction_type: 'register',
			ats_id: done.result!.ats_id,
			is_complete: true,
			created_at: tx.created_at,
			steps: done.steps,
		});
		expect((item.details as { steps: unknown[] }).steps).toHaveLength(6);
	});

	test('a transaction in progress is pending, not final', async () => {
		const tx = emulator.createTransaction();
		emulator.advance(tx.id);
		const result = await run({ operation: 'getTransaction', transactionId: tx.id });
		expect(result.items[0]).toMatchObject({ status: 'preparing_transaction', phase: 'pending', isFinal: false, progress: 20, txHash: null });
	});

	test('unknown, malformed, several and missing ids are clear errors', async () => {
		const unknown = await run({ operation: 'getTransaction', transactionId: UNKNOWN_ID });
		expect(unknown.error?.name).toBe('NodeApiError');
		expect(unknown.error?.message).toBe(`Allfeat ATS does not know transaction ${UNKNOWN_ID} (HTTP 404, common.not_found)`);
		expect((unknown.error as NodeApiError).httpCode).toBe('404');
		const malformed = await run({ operation: 'getTransaction', transactionId: 'tx-42' });
		expect(malformed.error?.name).toBe('NodeOperationError');
		expect(malformed.error?.message).toBe('"tx-42" is not an Allfeat ATS transaction ID');
		const several = await run({ operation: 'getTransaction', transactionId: `${UNKNOWN_ID}, ${UNKNOWN_ID.replace('1', '9')}` });
		expect(several.error?.message).toBe('Give one transaction ID per item, not 2');
		// n8n itself refuses an empty required field; an expression that resolves to nothing reaches the node.
		const missing = await run({ operation: 'getTransaction', transactionId: '={{ $json.nothing }}' });
		expect(missing.error?.message).toBe('No transaction ID given');
	});

	test('with "continue on fail", a bad item becomes an error item and the others go on', async () => {
		const tx = emulator.createTransaction();
		const result = await runManually(
			{ nodeType: new AllfeatAts(), parameters: { operation: 'getTransaction', transactionId: '={{ $json.id }}' }, credentials: credentials(), continueOnFail: true },
			[{ json: { id: 'nope' } }, { json: { id: UNKNOWN_ID } }, { json: { id: tx.id } }],
		);
		expect(result.items).toEqual([
			{ error: '"nope" is not an Allfeat ATS transaction ID' },
			{ error: expect.stringContaining(`does not know transaction ${UNKNOWN_ID}`) },
			expect.objectContaining({ id: tx.id, status: 'validating' }),
		]);
	});

	test('a key the service does not know is not sent; a host refusing access and an unreachable service are clear, redacted errors', async () => {
		const tx = emulator.createTransaction();
		const unknownKey = await run({ operation: 'getTransaction', transactionId: tx.id }, { apiKey: `${KEY}x` });
		expect(unknownKey.error).toBeUndefined();
		expect(emulator.stats.trackingRequestsWithAuthorization).toBe(0);

		emulator.failNextRestRequests(1, 401);
		const refused = await run({ operation: 'getTransaction', transactionId: tx.id });
		expect(refused.error?.name).toBe('NodeApiError');
		expect(refused.error?.message).toMatch(/HTTP 401: Unauthorized.*No credentials are sent on this route/);
		expect(JSON.stringify(refused.error)).not.toContain(KEY);

		await emulator.close();
		const down = await run({ operation: 'getTransaction', transactionId: tx.id });
		expect(down.error?.name).toBe('NodeApiError');
		expect((down.error as NodeApiError).description).toMatch(/Could not reach GET http:\/\/127\.0\.0\.1:\d+\/v1\/transactions\/.*(ECONNREFUSED|ECONNRESET)/);
		emulator = await AllfeatEmulator.start({ apiKeys: [KEY] });
	});
});

describe('waitForTransaction', () => {
	test('waits over the WebSocket until the transaction is final and returns it with its history', async () => {
		const tx = emulator.createTransaction();
		later(150, () => emulator.advanceToEnd(tx.id));
		const timersBefore = activeTimerCount();
		const result = await wait(tx.id);
		expect(result.error).toBeUndefined();
		expect(result.items).toEqual([expect.objectContaining({ id: tx.id, status: 'completed', isFinal: true, txHash: expect.stringMatching(/^0x/) })]);
		expect((result.items[0].details as { steps: unknown[] }).steps).toHaveLength(6);
		expect(emulator.stats.connectionsAccepted).toBe(1);
		await eventually(() => expect(emulator.openConnectionCount()).toBe(0));
		await eventually(() => expect(activeTimerCount()).toBeLessThanOrEqual(timersBefore));
	});

	test('falls back to polling when the WebSocket cannot be had', async () => {
		const tx = emulator.createTransaction();
		emulator.setRefuseUpgrades(503);
		later(300, () => emulator.advanceToEnd(tx.id));
		const result = await wait(tx.id, { options: { pollIntervalSeconds: 1 } });
		expect(result.error).toBeUndefined();
		expect(result.items[0]).toMatchObject({ status: 'completed', isFinal: true });
		expect(emulator.stats.connectionsAccepted).toBe(0);
	});

	test('a failed transaction fails the node, or is output when "Fail If the Transaction Failed" is off', async () => {
		const failing = emulator.createTransaction({ failAt: 'confirming' });
		later(100, () => emulator.advanceToEnd(failing.id));
		const failed = await wait(failing.id);
		expect(failed.error?.name).toBe('NodeOperationError');
		expect(failed.error?.message).toBe(`Allfeat ATS transaction ${failing.id} failed: Insufficient balance`);
		const kept = await wait(failing.id, { failOnTransactionFailure: false });
		expect(kept.items[0]).toMatchObject({ status: 'failed', phase: 'failed', isFinal: true, error: 'Insufficient balance' });
	});

	test('a transaction not final in time is a timeout error naming its last step, and nothing stays open', async () => {
		const tx = emulator.createTransaction();
		emulator.advance(tx.id);
		const timersBefore = activeTimerCount();
		const result = await wait(tx.id, { timeoutSeconds: 1 });
		expect(result.error?.message).toBe(`Allfeat ATS transaction ${tx.id} was not final after 1 s (its last step was preparing_transaction)`);
		await eventually(() => expect(emulator.openConnectionCount()).toBe(0));
		await eventually(() => expect(activeTimerCount()).toBeLessThanOrEqual(timersBefore));
	});

	test('an unknown transaction fails at once instead of waiting for the timeout', async () => {
		const started = Date.now();
		const result = await wait(UNKNOWN_ID, { timeoutSeconds: 30 });
		expect(result.error?.name).toBe('NodeApiError');
		expect(result.error?.message).toMatch(`Allfeat ATS does not know transaction ${UNKNOWN_ID}`);
		expect(Date.now() - started).toBeLessThan(10_000);
		await eventually(() => expect(emulator.openConnectionCount()).toBe(0));
	});
});
