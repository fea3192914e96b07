/**
 * Allfeat ATS Trigger inside n8n's engine (n8n-core's ActiveWorkflowTriggers and WorkflowExecute),
 * over real WebSocket and HTTP to the Allfeat emulator on 127.0.0.1.
 */
import type { NodeApiError } from 'n8n-workflow';

import { AllfeatEmulator } from '../emulators/allfeat';
import type { AllfeatEmulatorOptions } from '../emulators/allfeat';
import { AllfeatAtsTrigger } from '../nodes/AllfeatAts/AllfeatAtsTrigger.node';
import type { NormalizedItem } from '../nodes/shared/NormalizedItem';
import { activateTriggerExpectingError, engineLogs, runManually, testCredential } from './helpers/n8nEngine';
import type { ActiveTrigger, NodeUnderTest } from './helpers/n8nEngine';
import { activeTimerCount, eventually, staysTrue } from './helpers/wait';
import { TestScope } from './helpers/testScope';
import { emulatorPerTest } from './helpers/emulatorPerTest';

const scope = new TestScope();
const { later } = scope;

const KEY = `afo_sk_live_${'7c1e'.repeat(12)}`;
const WRONG_KEY = `afo_sk_live_${'dead'.repeat(12)}`;
const UNKNOWN_ID = '11111111-2222-4333-8444-555555555555';
const DOCUMENTED_STEPS = ['validating', 'preparing_transaction', 'signing', 'submitting', 'confirming', 'completed'];

let emulator: AllfeatEmulator;

const credentials = (overrides: Record<string, string> = {}) => ({
	allfeatAtsApi: { baseUrl: emulator.baseUrl, apiKey: KEY, webhookSecret: '', ...overrides },
});

const activate = scope.activator((transactionIds: string | string[], extra: Record<string, unknown> = {}, creds: NodeUnderTest['credentials'] = credentials()) => ({
	nodeType: new AllfeatAtsTrigger(),
	parameters: { transactionIds: Array.isArray(transactionIds) ? transactionIds.join(', ') : transactionIds, steps: [], ...extra } as never,
	credentials: creds,
}));

async function restartEmulator(options: AllfeatEmulatorOptions) {
	await emulator.close();
	emulator = await AllfeatEmulator.start({ apiKeys: [KEY], ...options });
}


/** n8n wraps an activation failure; the node's own error is its cause. */
const nodeErrorName = (error: Error) => (error.cause as Error | undefined)?.name;
const stepsOf = (trigger: ActiveTrigger, id?: string) => trigger.items().filter((i) => id === undefined || i.id === id).map((i) => i.status);

emulatorPerTest({
	scope,
	start: async () => (emulator = await AllfeatEmulator.start({ apiKeys: [KEY] })),
	close: async () => await emulator.close(),
	secrets: [KEY, WRONG_KEY],
	clearEngineLogs: true,
});

describe('one transaction', () => {
	test('emits every step in order as a normalized item, and the server\'s close at the final step is the end, not a drop', async () => {
		const tx = emulator.createTransaction();
		const trigger = await activate(tx.id);
		await trigger.waitForItems(1);
		emulator.advanceToEnd(tx.id);
		const items = await trigger.waitForItems(6);
		expect(stepsOf(trigger)).toEqual(DOCUMENTED_STEPS);
		expect(trigger.emissions.every((e) => e.length === 1)).toBe(true);

		const final = items[5] as unknown as NormalizedItem;
		const stored = emulator.getTransaction(tx.id)!;
		expect(final).toMatchObject({
			source: 'allfeat-ats',
			id: tx.id,
			status: 'completed',
			phase: 'succeeded',
			isFinal: true,
			progress: 100,
			txHash: stored.result!.tx_hash,
			blockHash: stored.result!.block_hash,
			blockNumber: stored.result!.block_number,
			explorerUrl: stored.result!.explorer_url,
			chainId: null,
			error: null,
			occurredAt: stored.steps[5].timestamp,
		});
		expect(final.details).toMatchObject({ ats_id: stored.result!.ats_id, transaction_type: 'register', work_id: expect.any(String) });
		expect(items.slice(0, 5).every((i) => i.phase === 'pending' && i.isFinal === false && i.txHash === null)).toBe(true);
		expect(items.map((i) => i.progress)).toEqual([5, 20, 40, 60, 80, 100]);
		expect(items.map((i) => i.occurredAt)).toEqual(stored.steps.map((s) => s.timestamp));

		await eventually(() => expect(emulator.openConnectionCount()).toBe(0));
		// No reconnect: the quiet period is longer than the first reconnect delay (250–500 ms) would be.
		await staysTrue(() => expect(emulator.stats.connectionsAccepted + emulator.stats.connectionsRefused).toBe(1));
		expect(trigger.errors).toEqual([]);
		expect(engineLogs.messages('warn').join('\n')).not.toMatch(/lost|no WebSocket/);
		expect(JSON.stringify(items)).not.toContain(KEY);
	});

	test('a failing transaction with the widget\'s token-transfer step ends at failed with the service\'s reason', async () => {
		const tx = emulator.createTransaction({ withTokenTransfer: true, failAt: 'signing', transactionType: 'add_version' });
		const trigger = await activate(tx.id);
		await trigger.waitForItems(1);
		emulator.advanceToEnd(tx.id);
		const items = await trigger.waitForItems(4);
		expect(stepsOf(trigger)).toEqual(['validating', 'transferring_tokens', 'preparing_transaction', 'failed']);
		expect(items[1]).toMatchObject({ phase: 'pending', isFinal: false, progress: 20 });
		expect(items[3]).toMatchObject({ status: 'failed', phase: 'failed', isFinal: true, error: 'Insufficient balance', txHash: null });
		expect(items[3].details).toMatchObject({ transaction_type: 'add_version', success: false });
		await eventually(() => expect(emulator.openConnectionCount()).toBe(0));
	});

	test('a transaction already past some steps: its history is emitted first, in order, then the live steps', async () => {
		const tx = emulator.createTransaction();
		emulator.advance(tx.id);
		emulator.advance(tx.id);
		const trigger = await activate(tx.id);
		await trigger.waitForItems(3);
		emulator.advance(tx.id);
		await trigger.waitForItems(4);
		expect(stepsOf(trigger)).toEqual(DOCUMENTED_STEPS.slice(0, 4));
	});

	test('live frames that arrive while the history is being read wait for it, so nothing is lost or out of order', async () => {
		const tx = emulator.createTransaction();
		emulator.advance(tx.id);
		emulator.setRestDelayMs(300);
		const trigger = await activate(tx.id);
		emulator.advance(tx.id); // signing: its frame arrives before the history (validating, preparing_transaction)
		emulator.advance(tx.id); // submitting
		await trigger.waitForItems(4);
		expect(stepsOf(trigger)).toEqual(DOCUMENTED_STEPS.slice(0, 4));
		expect(trigger.items().map((i) => i.occurredAt)).toEqual(emulator.getTransaction(tx.id)!.steps.map((s) => s.timestamp));
	});

	test('a transaction already final when the trigger starts: its whole history at once, and no reconnect loop', async () => {
		const tx = emulator.createTransaction();
		emulator.advanceToEnd(tx.id);
		const trigger = await activate(tx.id);
		await trigger.waitForItems(6);
		await eventually(() => expect(emulator.openConnectionCount()).toBe(0));
		// No reconnect loop and no step twice.
		await staysTrue(() => {
			expect(stepsOf(trigger)).toEqual(DOCUMENTED_STEPS);
			expect(emulator.stats.connectionsAccepted + emulator.stats.connectionsRefused).toBe(1);
			expect(emulator.openConnectionCount()).toBe(0);
		});
		expect(trigger.items()[5]).toMatchObject({ status: 'completed', isFinal: true, txHash: expect.stringMatching(/^0x/) });
	});

	test('reconnect in the middle: the steps missed while down come from the REST history, in order, none twice', async () => {
		const tx = emulator.createTransaction();
		const trigger = await activate(tx.id);
		emulator.advance(tx.id); // preparing_transaction, live
		await trigger.waitForItems(2);
		emulator.dropAllConnections();
		emulator.advance(tx.id); // signing, while nobody listens
		emulator.advance(tx.id); // submitting, while nobody listens
		await trigger.waitForItems(4, 5000);
		await eventually(() => expect(emulator.openConnectionCount(tx.id)).toBe(1));
		expect(emulator.stats.connectionsAccepted).toBe(2);
		emulator.advanceToEnd(tx.id);
		await trigger.waitForItems(6);
		// None twice: no step comes again from a late REST read or frame.
		await staysTrue(() => expect(stepsOf(trigger)).toEqual(DOCUMENTED_STEPS));
		expect(trigger.errors).toEqual([]);
	});

	test('a step whose frame is lost is recovered in order when the next frame comes after a reconnect', async () => {
		const tx = emulator.createTransaction();
		const trigger = await activate(tx.id);
		await trigger.waitForItems(1);
		emulator.advanceSilently(tx.id); // preparing_transaction: no frame
		emulator.dropAllConnections();
		await trigger.waitForItems(2, 5000);
		emulator.advanceToEnd(tx.id);
		await trigger.waitForItems(6);
		expect(stepsOf(trigger)).toEqual(DOCUMENTED_STEPS);
	});

	test('the final step reached while disconnected is found over REST; the trigger then stops reconnecting', async () => {
		const timersBefore = activeTimerCount();
		const tx = emulator.createTransaction();
		const trigger = await activate(tx.id);
		await trigger.waitForItems(1);
		emulator.setRefuseUpgrades(502);
		emulator.dropAllConnections();
		emulator.advanceToEnd(tx.id);
		await trigger.waitForItems(6, 5000);
		expect(stepsOf(trigger)).toEqual(DOCUMENTED_STEPS);
		// Still active, yet nothing left running: no reconnect timer, no keep-alive.
		await eventually(() => expect(activeTimerCount()).toBe(timersBefore));
		const attempts = emulator.stats.connectionsRefused;
		await staysTrue(() => expect(emulator.stats.connectionsRefused).toBe(attempts));
	});

	test('a frame repeated verbatim is not a new transition', async () => {
		const tx = emulator.createTransaction();
		const trigger = await activate(tx.id);
		await trigger.waitForItems(1);
		emulator.advance(tx.id);
		emulator.advance(tx.id); // signing
		await trigger.waitForItems(3);
		const frame = JSON.stringify({ type: 'update', ...emulator.getTransaction(tx.id)!.steps[2] });
		emulator.sendRawTo(tx.id, frame);
		emulator.sendRawTo(tx.id, frame);
		emulator.advance(tx.id);
		await trigger.waitForItems(4);
		await staysTrue(() => expect(stepsOf(trigger)).toEqual(DOCUMENTED_STEPS.slice(0, 4)));
	});

	test('a step older than one already emitted is refused, so steps never go backwards', async () => {
		const tx = emulator.createTransaction();
		const trigger = await activate(tx.id);
		await trigger.waitForItems(1);
		emulator.sendRawTo(tx.id, JSON.stringify({ type: 'update', step: 'signing', progress: 40 }));
		await trigger.waitForItems(2);
		emulator.sendRawTo(tx.id, JSON.stringify({ type: 'update', step: 'preparing_transaction', progress: 20 }));
		emulator.advance(tx.id); // preparing_transaction, late
		emulator.advance(tx.id); // signing, already emitted
		emulator.advance(tx.id); // submitting
		await trigger.waitForItems(3);
		await staysTrue(() => expect(stepsOf(trigger)).toEqual(['validating', 'signing', 'submitting']));
	});

	test('a terminal frame without its outcome (the documented frame) is completed from the REST result', async () => {
		await restartEmulator({ terminalFrameDetails: false });
		const tx = emulator.createTransaction();
		const trigger = await activate(tx.id);
		await trigger.waitForItems(1);
		const done = emulator.advanceToEnd(tx.id);
		const items = await trigger.waitForItems(6);
		expect(stepsOf(trigger)).toEqual(DOCUMENTED_STEPS);
		expect(items[5]).toMatchObject({ txHash: done.result!.tx_hash, blockNumber: done.result!.block_number, explorerUrl: done.result!.explorer_url });
		// The final step ends the following: no reconnect.
		await staysTrue(() => expect(emulator.stats.connectionsAccepted + emulator.stats.connectionsRefused).toBe(1));
	});

	test('when REST cannot be read at that moment, the bare terminal frame is still emitted as the final step', async () => {
		await restartEmulator({ terminalFrameDetails: false });
		const tx = emulator.createTransaction({ failAt: 'signing' });
		const trigger = await activate(tx.id);
		await trigger.waitForItems(1);
		emulator.advance(tx.id);
		await trigger.waitForItems(2);
		emulator.failNextRestRequests(1, 503);
		emulator.advance(tx.id);
		const items = await trigger.waitForItems(3);
		expect(items[2]).toMatchObject({ status: 'failed', phase: 'failed', isFinal: true, error: 'Transaction failed' });
		expect(engineLogs.messages('warn').join('\n')).toMatch(/could not read the outcome of step failed \(.*HTTP 503.*\); emitting it as the frame gave it/);
	});

	test('malformed frames are logged and skipped; later steps still arrive', async () => {
		const tx = emulator.createTransaction();
		const trigger = await activate(tx.id);
		await trigger.waitForItems(1);
		emulator.sendRawTo(tx.id, '{"type":"update","step":');
		emulator.sendRawTo(tx.id, JSON.stringify({ type: 'update', progress: 20 }));
		emulator.sendRawTo(tx.id, JSON.stringify({ type: 'telemetry', cpu: 3 }));
		emulator.sendRawTo(tx.id, JSON.stringify([1, 2]));
		emulator.advance(tx.id);
		await trigger.waitForItems(2);
		expect(stepsOf(trigger)).toEqual(['validating', 'preparing_transaction']);
		const warnings = engineLogs.messages('warn').join('\n');
		expect(warnings).toContain('not JSON');
		expect(warnings).toContain(`Allfeat ATS transaction ${tx.id}: skipped a frame of type "update": step Required`);
		expect(warnings).toContain('skipped a frame of type "telemetry"');
		expect(warnings).toContain('skipped a frame without a known "type"');
		expect(trigger.errors).toEqual([]);
		expect(emulator.stats.connectionsAccepted).toBe(1);
	});

	test('a step the table does not know passes through as pending, not final', async () => {
		const tx = emulator.createTransaction();
		const trigger = await activate(tx.id);
		await trigger.waitForItems(1);
		emulator.sendRawTo(tx.id, JSON.stringify({ type: 'update', step: 'anchoring_proof', progress: 90, timestamp: '2026-04-30T11:00:30Z' }));
		const items = await trigger.waitForItems(2);
		expect(items[1]).toMatchObject({ status: 'anchoring_proof', phase: 'pending', isFinal: false, progress: 90, occurredAt: '2026-04-30T11:00:30.000Z' });
		emulator.advanceToEnd(tx.id);
		await trigger.waitForItems(7);
		expect(stepsOf(trigger).at(-1)).toBe('completed');
	});

	test('the steps filter emits only the chosen steps', async () => {
		const tx = emulator.createTransaction();
		const trigger = await activate(tx.id, { steps: ['submitting', 'completed', 'failed'] });
		emulator.advanceToEnd(tx.id);
		await trigger.waitForItems(2);
		await staysTrue(() => expect(stepsOf(trigger)).toEqual(['submitting', 'completed']));
	});
});

describe('several transactions', () => {
	test('follows each on its own socket, each in order, each closed at its final step', async () => {
		const a = emulator.createTransaction();
		const b = emulator.createTransaction({ failAt: 'submitting' });
		const c = emulator.createTransaction({ withTokenTransfer: true });
		const trigger = await activate(`${a.id}\n${b.id} ,${c.id}, ${a.id}`);
		expect(emulator.openConnectionCount()).toBe(3);
		emulator.advance(a.id);
		emulator.advance(b.id);
		emulator.advanceToEnd(c.id);
		emulator.advanceToEnd(b.id);
		emulator.advanceToEnd(a.id);
		await trigger.waitForItems(6 + 4 + 7);
		await staysTrue(() => {
			expect(stepsOf(trigger, a.id)).toEqual(DOCUMENTED_STEPS);
			expect(stepsOf(trigger, b.id)).toEqual(['validating', 'preparing_transaction', 'signing', 'failed']);
			expect(stepsOf(trigger, c.id)).toEqual(['validating', 'transferring_tokens', ...DOCUMENTED_STEPS.slice(1)]);
			expect(trigger.items()).toHaveLength(17);
		});
		await eventually(() => expect(emulator.openConnectionCount()).toBe(0));
	});

	test('transactions moving on the emulator\'s own clock arrive complete and in order', async () => {
		await restartEmulator({ stepMs: 25 });
		const ids = [emulator.createTransaction().id, emulator.createTransaction({ withTokenTransfer: true }).id];
		const trigger = await activate(ids);
		await trigger.waitForItems(13, 3000);
		expect(stepsOf(trigger, ids[0])).toEqual(DOCUMENTED_STEPS);
		expect(stepsOf(trigger, ids[1])).toEqual(['validating', 'transferring_tokens', ...DOCUMENTED_STEPS.slice(1)]);
	});

	test.each<[string, AllfeatEmulatorOptions['unknownIdOnWebSocket']]>([
		['an error frame', 'error-frame'],
		['a not_found frame', 'not-found-frame'],
		['HTTP 404 on the upgrade (then REST 404)', 'http-404'],
	])('an unknown id answered with %s gets one not_found item; the other ids keep going', async (_how, unknownIdOnWebSocket) => {
		await restartEmulator({ unknownIdOnWebSocket });
		const known = emulator.createTransaction();
		const trigger = await activate([UNKNOWN_ID, known.id]);
		emulator.advanceToEnd(known.id);
		await trigger.waitForItems(7);
		const unknown = trigger.items().filter((i) => i.id === UNKNOWN_ID);
		expect(unknown).toEqual([
			expect.objectContaining({
				source: 'allfeat-ats',
				status: 'not_found',
				phase: 'failed',
				isFinal: true,
				error: `Allfeat ATS does not know transaction ${UNKNOWN_ID}`,
			}),
		]);
		expect(stepsOf(trigger, known.id)).toEqual(DOCUMENTED_STEPS);
		expect(engineLogs.messages('error').join('\n')).toContain(`Allfeat ATS does not know transaction ${UNKNOWN_ID}`);
		expect(trigger.errors).toEqual([]);
		await eventually(() => expect(emulator.openConnectionCount()).toBe(0));
	});
});

describe('parameters, credentials and failures', () => {
	test('missing, malformed and duplicated transaction ids', async () => {
		const missing = await activateTriggerExpectingError({ nodeType: new AllfeatAtsTrigger(), parameters: { transactionIds: ' , \n' }, credentials: credentials() });
		expect(nodeErrorName(missing)).toBe('NodeOperationError');
		expect(missing.message).toBe('There was a problem activating the workflow: "No transaction ID given"');

		const malformed = await activateTriggerExpectingError({
			nodeType: new AllfeatAtsTrigger(),
			parameters: { transactionIds: `${UNKNOWN_ID}, tx-42, 6f1c` },
			credentials: credentials(),
		});
		expect(malformed.message).toContain('"tx-42", "6f1c" are not Allfeat ATS transaction IDs');
		expect(emulator.stats.restRequests + emulator.stats.connectionsAccepted + emulator.stats.connectionsRefused).toBe(0);

		const tx = emulator.createTransaction();
		const trigger = await activate(`${tx.id};${tx.id}\n${tx.id}`);
		await trigger.waitForItems(1);
		expect(emulator.openConnectionCount()).toBe(1);
	});

	test('an unreachable service fails activation with a clear, redacted error', async () => {
		const base = emulator.baseUrl;
		await emulator.close();
		const error = await activateTriggerExpectingError({ nodeType: new AllfeatAtsTrigger(), parameters: { transactionIds: UNKNOWN_ID }, credentials: credentials({ baseUrl: base }) });
		expect(nodeErrorName(error)).toBe('NodeApiError');
		expect(error.message).toMatch(/refused the connection|Could not reach/);
		expect(JSON.stringify(error)).not.toContain(KEY);
		// In the editor the description names the URL that could not be reached.
		const run = await runManually({ nodeType: new AllfeatAtsTrigger(), parameters: { transactionIds: UNKNOWN_ID }, credentials: credentials({ baseUrl: base }) });
		const description = (run.error as NodeApiError).description ?? '';
		expect(description).toContain(`Could not reach GET ${base}/v1/transactions/${UNKNOWN_ID}`);
		expect(description + run.error?.message).not.toContain(KEY);
		emulator = await AllfeatEmulator.start({ apiKeys: [KEY] });
	});

	test('a host that asks for credentials on tracking (401, though none is sent) is one clear error: at activation when polling, through emitError when live', async () => {
		const tx = emulator.createTransaction();
		emulator.failNextRestRequests(1, 401);
		const live = await activate(tx.id);
		const error = await live.waitForError();
		expect(error.name).toBe('NodeApiError');
		expect(error.message).toMatch(/HTTP 401: Unauthorized.*No credentials are sent on this route/);
		expect(JSON.stringify(error)).not.toContain(KEY);
		// One error, not a second one from a retry, and no item.
		await staysTrue(() => {
			expect(live.errors).toHaveLength(1);
			expect(live.items()).toEqual([]);
		});

		emulator.setRefuseUpgrades(503);
		emulator.failNextRestRequests(1, 401);
		const atActivation = await activateTriggerExpectingError({ nodeType: new AllfeatAtsTrigger(), parameters: { transactionIds: tx.id }, credentials: credentials() });
		expect(atActivation.message).toMatch(/HTTP 401: Unauthorized/);
		expect(JSON.stringify(atActivation)).not.toContain(KEY);
		expect(emulator.stats.trackingRequestsWithAuthorization).toBe(0);
	});

	test('without an API key, no Authorization header is sent and tracking works', async () => {
		const tx = emulator.createTransaction();
		const trigger = await activate(tx.id, {}, credentials({ apiKey: '' }));
		await trigger.waitForItems(1);
		expect(trigger.errors).toEqual([]);
	});

	test('a bad base URL is a clear error', async () => {
		const error = await activateTriggerExpectingError({ nodeType: new AllfeatAtsTrigger(), parameters: { transactionIds: UNKNOWN_ID }, credentials: credentials({ baseUrl: 'ats.api.allfeat.org' }) });
		expect(error.message).toMatch(/is not an http\(s\) URL/);
	});

	test('the credential test: host serving tracking without credentials, key form (never sent), wrong host, bad webhook secret', async () => {
		const test = (overrides: Record<string, string>) =>
			testCredential(new AllfeatAtsTrigger(), 'allfeatAtsApiCredentialTest', 'allfeatAtsApi', credentials(overrides).allfeatAtsApi);
		expect(await test({})).toEqual({ status: 'OK', message: expect.stringContaining(`Allfeat ATS answered at ${emulator.baseUrl}`) });
		expect((await test({})).message).toMatch(/organization-key form; tracking does not use it, so it was not sent/);
		expect(await test({ apiKey: '' })).toEqual({ status: 'OK', message: `Allfeat ATS answered at ${emulator.baseUrl} (tracking, no credentials needed).` });
		expect(await test({ baseUrl: `${emulator.baseUrl}/v1/` })).toMatchObject({ status: 'OK' });
		expect(await test({ baseUrl: 'custom', customBaseUrl: emulator.baseUrl })).toMatchObject({ status: 'OK' });
		expect(await test({ baseUrl: 'custom', customBaseUrl: '' })).toEqual({ status: 'Error', message: expect.stringMatching(/Custom Base URL is empty/) });
		// A key unknown to the service is not an error: no route these nodes call sends it.
		expect(await test({ apiKey: WRONG_KEY })).toMatchObject({ status: 'OK' });
		expect(emulator.stats.trackingRequestsWithAuthorization).toBe(0);
		// What is not an organization key at all (a widget key, the webhook secret) is named.
		const widgetKey = await test({ apiKey: 'csk_live_0123456789abcdef' });
		expect(widgetKey).toEqual({ status: 'Error', message: expect.stringMatching(/not an Allfeat organization key/) });
		expect(widgetKey.message).not.toContain('csk_live_0123456789abcdef');
		emulator.failNextRestRequests(1, 401);
		expect(await test({})).toEqual({ status: 'Error', message: expect.stringMatching(/asks for credentials on the tracking route.*HTTP 401/) });
		expect(await test({ webhookSecret: 'not base64!' })).toEqual({ status: 'Error', message: expect.stringMatching(/webhook secret is not base64/) });
		expect(await test({ webhookSecret: 'c2hvcnQ=' })).toEqual({ status: 'Error', message: expect.stringMatching(/decodes to 5 bytes/) });
		await emulator.close();
		const down = await test({});
		expect(down).toEqual({ status: 'Error', message: expect.stringMatching(/Could not reach GET/) });
		emulator = await AllfeatEmulator.start({ apiKeys: [KEY] });
	});
});

describe('lifecycle', () => {
	test('deactivation closes every socket and timer at once', async () => {
		const timersBefore = activeTimerCount();
		const ids = [emulator.createTransaction().id, emulator.createTransaction().id];
		const trigger = await activate(ids);
		await trigger.waitForItems(2);
		expect(emulator.openConnectionCount()).toBe(2);
		await trigger.deactivate();
		await eventually(() => expect(emulator.openConnectionCount()).toBe(0));
		await eventually(() => expect(activeTimerCount()).toBe(timersBefore));
		ids.forEach((id) => emulator.advance(id));
		await staysTrue(() => expect(trigger.items()).toHaveLength(2));
	});

	test('activating and deactivating repeatedly leaks no connection', async () => {
		const tx = emulator.createTransaction();
		for (let i = 0; i < 5; i++) {
			const trigger = await activate(tx.id);
			await trigger.deactivate();
		}
		await eventually(() => expect(emulator.openConnectionCount()).toBe(0));
		expect(emulator.stats.connectionsAccepted).toBe(5);
	});
});

describe('manual mode ("Listen for test event")', () => {
	test('emits the first item, then stops listening', async () => {
		const tx = emulator.createTransaction();
		const run = await runManually({ nodeType: new AllfeatAtsTrigger(), parameters: { transactionIds: tx.id, steps: [] }, credentials: credentials() });
		expect(run.error).toBeUndefined();
		expect(run.items).toEqual([expect.objectContaining({ id: tx.id, status: 'validating', source: 'allfeat-ats' })]);
		await eventually(() => expect(emulator.openConnectionCount()).toBe(0));
	});

	test('with a steps filter, waits for the first matching step', async () => {
		const tx = emulator.createTransaction();
		later(200, () => emulator.advanceToEnd(tx.id));
		const run = await runManually({ nodeType: new AllfeatAtsTrigger(), parameters: { transactionIds: tx.id, steps: ['completed'] }, credentials: credentials() });
		expect(run.items).toEqual([expect.objectContaining({ status: 'completed', isFinal: true, txHash: expect.stringMatching(/^0x/) })]);
		await eventually(() => expect(emulator.openConnectionCount()).toBe(0));
	});

	test('an unknown id alone is a node error in the editor, not a hang', async () => {
		const run = await runManually({ nodeType: new AllfeatAtsTrigger(), parameters: { transactionIds: UNKNOWN_ID, steps: [] }, credentials: credentials() });
		expect(run.error?.name).toBe('NodeOperationError');
		expect(run.error?.message).toBe(`Allfeat ATS does not know transaction ${UNKNOWN_ID}`);
		expect(run.items).toEqual([]);
		await eventually(() => expect(emulator.openConnectionCount()).toBe(0));
	});

	test('an unknown id among others is an item like any other', async () => {
		await restartEmulator({ unknownIdOnWebSocket: 'http-404' });
		const tx = emulator.createTransaction();
		const run = await runManually({
			nodeType: new AllfeatAtsTrigger(),
			parameters: { transactionIds: `${UNKNOWN_ID}, ${tx.id}`, steps: ['completed'] },
			credentials: credentials(),
		});
		expect(run.error).toBeUndefined();
		expect(run.items).toEqual([expect.objectContaining({ id: UNKNOWN_ID, status: 'not_found' })]);
	});
});
