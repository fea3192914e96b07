/**
 * What a trigger does when its service cannot be reached, by n8n's activation mode: when n8n starts
 * (`init`) or takes over as leader, the trigger comes up anyway and connects by itself once the
 * service is back; when a user activates the workflow, the activation fails at once, clearly. A
 * refused credential fails the activation in every mode (n8n's own backoff then applies).
 */
import { KurierEmulator } from '../emulators/kurier';
import { TachyonEmulator } from '../emulators/tachyon';
import { KurierTrigger } from '../nodes/Kurier/KurierTrigger.node';
import { TachyonTrigger } from '../nodes/Tachyon/TachyonTrigger.node';
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

describe('Tachyon Trigger with no stored WebSocket key (it registers first)', () => {
	const account = { apiKey: 'activation-tachyon-key', dashboardJwt: 'activation-jwt' };

	test('activation mode init: Tachyon unreachable at start: the activation succeeds, registration and socket follow when it is back', async () => {
		const first = await TachyonEmulator.start({ accounts: [account] });
		const { port } = first;
		await first.close();
		const subject: NodeUnderTest = {
			nodeType: new TachyonTrigger(),
			parameters: { statuses: [], txIds: '', chainIds: '' },
			credentials: { tachyonApi: { baseUrl: 'custom', customBaseUrl: `http://127.0.0.1:${port}`, apiKey: account.apiKey, dashboardJwt: account.dashboardJwt, wsUrl: '', wsKey: '' } },
			activation: 'init',
		};
		const trigger = scope.track(await activateTrigger(subject));
		expect(trigger.errors).toEqual([]);
		const emulator = await TachyonEmulator.start({ accounts: [account], port });
		try {
			const deadline = Date.now() + 15_000;
			while (emulator.openConnectionCount() === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
			expect(emulator.stats.registrations).toBeGreaterThanOrEqual(1);
			expect(emulator.openConnectionCount()).toBe(1);
			emulator.submit(account.apiKey, { chainId: 8453 });
			const [item] = await trigger.waitForItems(1);
			expect(item.status).toBe('NOT_PICKED_UP');
		} finally {
			await trigger.deactivate();
			await emulator.close();
		}
	});

	test('activation mode activate: Tachyon unreachable fails the activation at once', async () => {
		const first = await TachyonEmulator.start({ accounts: [account] });
		const { port } = first;
		await first.close();
		const error = await activateTriggerExpectingError({
			nodeType: new TachyonTrigger(),
			parameters: { statuses: [], txIds: '', chainIds: '' },
			credentials: { tachyonApi: { baseUrl: 'custom', customBaseUrl: `http://127.0.0.1:${port}`, apiKey: account.apiKey, dashboardJwt: account.dashboardJwt, wsUrl: '', wsKey: '' } },
			activation: 'activate',
		});
		expect(error.message).toMatch(/reach|ECONNREFUSED|refused/i);
	});
});
