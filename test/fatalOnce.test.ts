/**
 * A trigger over several ids reports one fatal error, however many of its streams hit the cause,
 * and stops them all (found by the chaos suite: a host refusing tracking mid-life gave one
 * emitError per transaction, each of which makes n8n run the error workflow and queue a reactivation).
 */
import { AllfeatEmulator } from '../emulators/allfeat';
import { AllfeatAtsTrigger } from '../nodes/AllfeatAts/AllfeatAtsTrigger.node';
import { activateTrigger } from './helpers/n8nEngine';
import { eventually, sleep } from './helpers/wait';

let emulator: AllfeatEmulator;

beforeEach(async () => {
	emulator = await AllfeatEmulator.start();
});

afterEach(async () => {
	await emulator.close();
});

test('three transactions refused mid-life: one emitted error, and no stream retries after it', async () => {
	const ids = [0, 1, 2].map(() => emulator.createTransaction().id);
	const trigger = await activateTrigger({
		nodeType: new AllfeatAtsTrigger(),
		parameters: { transactionIds: ids.join(', '), steps: [] } as never,
		credentials: { allfeatAtsApi: { baseUrl: emulator.baseUrl, apiKey: '', webhookSecret: '' } },
	});
	try {
		await eventually(() => expect(emulator.openConnectionCount()).toBe(3));
		emulator.setRefuseUpgrades(401);
		emulator.failNextRestRequests(1_000, 401);
		emulator.dropAllConnections();
		await trigger.waitForError();
		// A read already sent when the first error came reaches the emulator a moment later: not a retry.
		await sleep(100);
		let attempts = 0;
		emulator.onUpgradeRequest = () => attempts++;
		emulator.onRestRequest = () => attempts++;
		await sleep(1_500);
		expect(trigger.errors).toHaveLength(1);
		expect(trigger.errors[0].message).toMatch(/HTTP 401/);
		expect(attempts).toBe(0);
	} finally {
		await trigger.deactivate();
	}
});
