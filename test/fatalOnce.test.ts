/**
 * A trigger over several ids reports one fatal error, however many of its streams hit the cause,
 * and stops them all (found by the chaos suite: a host refusing tracking mid-life gave one
 * emitError per transaction, each of which makes n8n run the error workflow and queue a reactivation).
 */
import { AllfeatEmulator } from '../emulators/allfeat';
import { AllfeatAtsTrigger } from '../nodes/AllfeatAts/AllfeatAtsTrigger.node';
import { activateTrigger } from './helpers/n8nEngine';
import { countOutgoingRequests } from './helpers/outgoing';
import { eventually, staysTrue } from './helpers/wait';

/**
 * Longer than the second reconnect step (500–1000 ms): a stream that missed the stop and had
 * already failed once would retry within it, so the quiet period alone could miss it.
 */
const LONGER_THAN_A_SECOND_RETRY_MS = 1_500;

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
		// Counted on the client side: a read already sent when the first error came may reach the
		// emulator a moment later, but is not a retry.
		const attempts = countOutgoingRequests();
		try {
			await staysTrue(() => {
				expect(trigger.errors).toHaveLength(1);
				expect(attempts.started).toBe(0);
			}, LONGER_THAN_A_SECOND_RETRY_MS);
		} finally {
			attempts.stop();
		}
		expect(trigger.errors[0].message).toMatch(/HTTP 401/);
	} finally {
		await trigger.deactivate();
	}
});
