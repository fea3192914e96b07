/**
 * What a trigger does when its service cannot be reached, by n8n's activation mode: when n8n starts
 * (`init`) or takes over as leader, the trigger comes up anyway and connects by itself once the
 * service is back; when a user activates the workflow, the activation fails at once, clearly. A
 * refused credential fails the activation in every mode (n8n's own backoff then applies).
 */
import { KurierEmulator } from '../emulators/kurier';
import { KurierTrigger } from '../nodes/Kurier/KurierTrigger.node';
import { activateTrigger, activateTriggerExpectingError } from './helpers/n8nEngine';
import type { NodeUnderTest } from './helpers/n8nEngine';
import { submitProofOverRest } from './helpers/kurier';
import { TestScope } from './helpers/testScope';

const API_KEY = 'activation-test-key';
const scope = new TestScope();
afterEach(async () => await scope.end());

/** A port where nothing listens now (an emulator was there a moment ago, and comes back later). */
async function vacatedPort(): Promise<number> {
	const emulator = await KurierEmulator.start({ apiKeys: [API_KEY] });
	const { port } = emulator;
	await emulator.close();
	return port;
}

function subjectFor(port: number, activation: NodeUnderTest['activation'], apiKey = API_KEY): NodeUnderTest {
	return {
		nodeType: new KurierTrigger(),
		parameters: { event: 'allJobs', statuses: [] },
		credentials: { kurierApi: { environment: 'custom', baseUrl: `http://127.0.0.1:${port}/api/v1`, apiKey } },
		activation,
	};
}

test.each(['init', 'leadershipChange'] as const)('activation mode %s: an unreachable service does not fail the activation; the trigger connects when it is back', async (mode) => {
	const port = await vacatedPort();
	const trigger = scope.track(await activateTrigger(subjectFor(port, mode)));
	expect(trigger.errors).toEqual([]);
	const emulator = await KurierEmulator.start({ apiKeys: [API_KEY], port });
	try {
		// The socket retries with its backoff (0.5 s, 1 s, … capped at 30 s): back within a few seconds here.
		const deadline = Date.now() + 10_000;
		while (emulator.stats.subscribeMessages === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
		expect(emulator.stats.subscribeMessages).toBeGreaterThan(0);
		await submitProofOverRest(emulator, API_KEY);
		const [item] = await trigger.waitForItems(1);
		expect(item.status).toBe('Queued');
		expect(trigger.errors).toEqual([]);
	} finally {
		await trigger.deactivate();
		await emulator.close();
	}
});

test('activation mode activate (a user\'s toggle): an unreachable service fails the activation at once, clearly', async () => {
	const port = await vacatedPort();
	const error = await activateTriggerExpectingError(subjectFor(port, 'activate'));
	expect(error.message).toMatch(/Could not connect|could not be reached|refused the connection|ECONNREFUSED/i);
});

test('activation mode init: a refused key still fails the activation itself (n8n\'s backoff applies), no background loop', async () => {
	const emulator = await KurierEmulator.start({ apiKeys: [API_KEY] });
	try {
		const error = await activateTriggerExpectingError(subjectFor(emulator.port, 'init', 'not-the-key'));
		expect(error.message).not.toContain('not-the-key');
		expect(error.message).toMatch(/refused|401|key/i);
		const accepted = emulator.stats.connectionsAccepted;
		await new Promise((resolve) => setTimeout(resolve, 1_500));
		// Nothing keeps knocking after the failed activation.
		expect(emulator.stats.connectionsAccepted + emulator.stats.connectionsRefused).toBeLessThanOrEqual(accepted + 1);
	} finally {
		await emulator.close();
	}
});
