/**
 * Allfeat ATS Trigger's REST polling fallback inside n8n's engine, when the WebSocket cannot be had
 * (a proxy refusing the upgrade), against the Allfeat emulator on 127.0.0.1. Polls are 2 s apart, so
 * these tests live in their own file.
 */
import { AllfeatEmulator } from '../emulators/allfeat';
import { AllfeatAtsTrigger } from '../nodes/AllfeatAts/AllfeatAtsTrigger.node';
import { engineLogs } from './helpers/n8nEngine';
import type { ActiveTrigger } from './helpers/n8nEngine';
import { countOutgoingRequests } from './helpers/outgoing';
import { activeTimerCount, eventually, staysTrue } from './helpers/wait';
import { TestScope } from './helpers/testScope';

const scope = new TestScope();

const DOCUMENTED_STEPS = ['validating', 'preparing_transaction', 'signing', 'submitting', 'confirming', 'completed'];

let emulator: AllfeatEmulator;

const activate = scope.activator((transactionId: string) => ({
	nodeType: new AllfeatAtsTrigger(),
	parameters: { transactionIds: transactionId, steps: [] },
	credentials: { allfeatAtsApi: { baseUrl: emulator.baseUrl, apiKey: '' } },
}));

const stepsOf = (trigger: ActiveTrigger) => trigger.items().map((i) => i.status);

beforeEach(async () => {
	emulator = await AllfeatEmulator.start();
	engineLogs.clear();
});

afterEach(async () => {
	await scope.end();
	await emulator.close();
});

test('when the WebSocket cannot be had, the REST resource is polled until the final step, then polling stops', async () => {
	const timersBefore = activeTimerCount();
	const tx = emulator.createTransaction();
	emulator.setRefuseUpgrades(503);
	const trigger = await activate(tx.id);
	expect(stepsOf(trigger)).toEqual(['validating']); // the first read is part of the activation
	const readsBefore = emulator.stats.restRequests;
	emulator.advanceToEnd(tx.id);
	await trigger.waitForItems(6, 4000);
	expect(stepsOf(trigger)).toEqual(DOCUMENTED_STEPS);
	expect(trigger.items()[5]).toMatchObject({ isFinal: true, txHash: expect.stringMatching(/^0x/) });
	expect(emulator.stats.restRequests - readsBefore).toBe(1); // the next poll, 2 s later, saw the whole history
	expect(emulator.stats.connectionsAccepted).toBe(0);
	expect(engineLogs.messages('warn').join('\n')).toContain(`Allfeat ATS transaction ${tx.id}: no WebSocket (Could not connect to ws://127.0.0.1:${emulator.port}/v1/ws/transactions/${tx.id}: HTTP 503 on upgrade)`);
	// The workflow is still active, but nothing runs for a final transaction.
	await eventually(() => expect(activeTimerCount()).toBe(timersBefore));
	expect(trigger.errors).toEqual([]);
});

test('a REST failure while polling is logged and retried, not fatal', async () => {
	const tx = emulator.createTransaction();
	emulator.setRefuseUpgrades(404);
	emulator.failNextRestRequests(1, 503);
	const trigger = await activate(tx.id);
	expect(trigger.items()).toEqual([]);
	emulator.advanceToEnd(tx.id);
	await trigger.waitForItems(6, 4000);
	expect(stepsOf(trigger)).toEqual(DOCUMENTED_STEPS);
	expect(engineLogs.messages('warn').join('\n')).toMatch(/polling failed \(.*HTTP 503: Service temporarily unavailable\); next read in 2000 ms/);
	expect(trigger.errors).toEqual([]);
});

test('an unknown id found while polling gets its not_found item, and polling stops', async () => {
	const timersBefore = activeTimerCount();
	emulator.setRefuseUpgrades(503);
	const unknownId = '0f0e0d0c-0b0a-4908-8706-050403020100';
	const trigger = await activate(unknownId);
	expect(trigger.items()).toEqual([expect.objectContaining({ id: unknownId, status: 'not_found', phase: 'failed', isFinal: true })]);
	await eventually(() => expect(activeTimerCount()).toBe(timersBefore));
});

test('deactivation stops polling and any pending reconnect at once', async () => {
	const timersBefore = activeTimerCount();
	const polled = emulator.createTransaction();
	emulator.setRefuseUpgrades(503);
	const polling = await activate(polled.id);
	emulator.setRefuseUpgrades(null);
	const reconnecting = await activate(emulator.createTransaction().id);
	await eventually(() => expect(polling.items().length + reconnecting.items().length).toBe(2));
	emulator.setRefuseUpgrades(503);
	emulator.dropAllConnections();
	await eventually(() => expect(emulator.stats.connectionsRefused).toBeGreaterThan(1));
	await polling.deactivate();
	await reconnecting.deactivate();
	// Counted on the client side: a REST read sent just before the deactivation may still land on the
	// emulator (answered and ignored), but no poll or upgrade starts afterwards.
	const requests = countOutgoingRequests();
	try {
		await eventually(() => expect(activeTimerCount()).toBe(timersBefore));
		emulator.advanceToEnd(polled.id);
		await staysTrue(() => {
			expect(requests.started).toBe(0);
			expect(polling.items()).toHaveLength(1);
			expect(reconnecting.items()).toHaveLength(1);
		});
	} finally {
		requests.stop();
	}
});

test('a WebSocket refused while running (HTTP 403 on a reconnect) switches that transaction to polling', async () => {
	const tx = emulator.createTransaction();
	const trigger = await activate(tx.id);
	await trigger.waitForItems(1);
	emulator.setRefuseUpgrades(403);
	emulator.dropAllConnections();
	await eventually(() => expect(engineLogs.messages('warn').join('\n')).toContain(`Allfeat ATS transaction ${tx.id}: the WebSocket stopped`));
	const refusals = emulator.stats.connectionsRefused;
	emulator.advanceToEnd(tx.id);
	await trigger.waitForItems(6, 4000);
	expect(stepsOf(trigger)).toEqual(DOCUMENTED_STEPS);
	expect(emulator.stats.connectionsRefused).toBe(refusals); // no more reconnect attempts
	expect(trigger.errors).toEqual([]);
});
