/**
 * Tachyon Trigger inside n8n's engine, over real sockets to the Tachyon emulator: WebSocket keys and
 * registration, refused and revoked credentials, malformed frames, the credential test, and the
 * lifecycle (no socket or timer outlives a deactivation; keep-alive; a silent server).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { NodeApiError } from 'n8n-workflow';

import { TachyonEmulator } from '../emulators/tachyon';
import type { TachyonAccount, TachyonFrameShape } from '../emulators/tachyon';
import type { NormalizedItem } from '../nodes/shared/NormalizedItem';
import { TachyonApiClient, resolveTachyonConnection } from '../nodes/Tachyon/TachyonApiClient';
import { TachyonStream } from '../nodes/Tachyon/TachyonStream';
import { TachyonTrigger } from '../nodes/Tachyon/TachyonTrigger.node';
import { CapturingLogger } from './helpers/logs';
import { activateTriggerExpectingError, engineLogs, runManually, testCredential } from './helpers/n8nEngine';
import type { NodeUnderTest } from './helpers/n8nEngine';
import { activeTimerCount, eventually, staysTrue } from './helpers/wait';
import { TestScope } from './helpers/testScope';
import { emulatorPerTest } from './helpers/emulatorPerTest';

const scope = new TestScope();

const API_KEY = 'tachyon-api-key-b81d44e0c2';
const JWT = 'eyJhbGciOiJIUzI1NiJ9.dGFjaHlvbi1mYWlsdXJlcw.c2lnbmF0dXJlMg';
const WS_KEY = 'ws_0c7d51aa9e3b4f62b7e1';
const SECRETS = [API_KEY, JWT, WS_KEY];
let emulator: TachyonEmulator;

async function startEmulator(frameShape: TachyonFrameShape = 'bare', account: TachyonAccount = { apiKey: API_KEY, dashboardJwt: JWT, wsKey: WS_KEY }) {
	emulator = await TachyonEmulator.start({ frameShape, accounts: [account] });
}

const credentials = (overrides: Record<string, string> = {}) => ({
	tachyonApi: { baseUrl: emulator.baseUrl, apiKey: API_KEY, dashboardJwt: JWT, wsUrl: emulator.wsUrl, wsKey: WS_KEY, ...overrides },
});
/** No WebSocket fields: the trigger registers (with the JWT when set, else the API key). */
const registeringCredentials = (overrides: Record<string, string> = {}) => credentials({ wsUrl: '', wsKey: '', ...overrides });

const PARAMETERS = { statuses: [], txIds: '', chainIds: '' };

const activate = scope.activator((creds: NodeUnderTest['credentials'] = credentials()) => ({ nodeType: new TachyonTrigger(), parameters: PARAMETERS as never, credentials: creds }));

const activationError = (creds: ReturnType<typeof credentials>) =>
	activateTriggerExpectingError({ nodeType: new TachyonTrigger(), parameters: PARAMETERS as never, credentials: creds });

/** n8n wraps an activation failure; the node's own error is its cause. */
const nodeErrorName = (error: Error) => (error.cause as Error | undefined)?.name;

function streamFor(items: NormalizedItem[], options: Partial<ConstructorParameters<typeof TachyonStream>[0]> = {}) {
	const client = new TachyonApiClient(resolveTachyonConnection(credentials().tachyonApi));
	return new TachyonStream({
		client,
		onItem: (item) => items.push(item),
		onFatal: (error) => {
			throw error;
		},
		...options,
	});
}

emulatorPerTest({ scope, start: async () => await startEmulator(), close: async () => await emulator.close(), secrets: SECRETS, clearEngineLogs: true });

describe('WebSocket key and registration', () => {
	test.each<TachyonFrameShape>(['bare', 'notification', 'legacy'])(
		'a wrong WebSocket key (%s unauthorized message) fails activation with one clear error and no reconnect storm',
		async (shape) => {
			await emulator.close();
			await startEmulator(shape);
			const error = await activationError(credentials({ wsKey: 'ws_not_the_key_1234' }));
			expect(nodeErrorName(error)).toBe('NodeApiError');
			expect(error.message).toMatch(/Tachyon refused the WebSocket key \(".*Unauthorized.*"\)/);
			expect(error.message).not.toContain('ws_not_the_key_1234');
			await staysTrue(() => {
				expect(emulator.stats.connectionsRefused).toBe(1);
				expect(emulator.stats.connectionsAccepted).toBe(0);
			});
		},
	);

	test('without WebSocket fields it registers once with the JWT, also across reconnects, and never shows the key', async () => {
		await emulator.close();
		// An account whose WebSocket key does not exist until registration creates it.
		await startEmulator('bare', { apiKey: API_KEY, dashboardJwt: JWT });
		const trigger = await activate(registeringCredentials());
		expect(emulator.stats.registrations).toBe(1);
		const registeredKey = emulator.wsKeyOf(API_KEY);
		const tx = emulator.submit(API_KEY);
		await trigger.waitForItems(1);
		emulator.dropAllConnections();
		await eventually(() => expect(emulator.stats.connectionsAccepted).toBe(2), 5000);
		emulator.advanceToEnd(tx.id);
		await trigger.waitForItems(3);
		expect(emulator.stats.registrations).toBe(1);
		expect(JSON.stringify(trigger.items())).not.toContain(registeredKey);
		expect(engineLogs.text()).not.toContain(registeredKey);
	});

	test('a refused JWT fails activation with the service message and without the JWT', async () => {
		const badJwt = 'eyJhbGciOiJub25lIn0.bad-jwt-payload.x';
		const error = await activationError(registeringCredentials({ dashboardJwt: badJwt }));
		expect(nodeErrorName(error)).toBe('NodeApiError');
		expect(error.message).toMatch(/Registering the WebSocket \(with the dashboard JWT\) failed with HTTP 401: Malformed or invalid JWT/);
		expect(JSON.stringify(error) + error.message).not.toContain(badJwt);
		expect(emulator.stats.connectionsAccepted + emulator.stats.connectionsRefused).toBe(0);
	});

	test('a WebSocket URL that is not one, or no API key, is a clear error', async () => {
		const badUrl = await activationError(credentials({ wsUrl: 'tachyon.rath.fi/ws' }));
		expect(badUrl.message).toContain('is not a ws(s):// URL');
		const noKey = await activationError(credentials({ apiKey: ' ' }));
		expect(noKey.message).toContain('The Tachyon credential has no API key');
	});

	test('a key revoked while running is reported once through emitError, without retries', async () => {
		const trigger = await activate();
		emulator.revokeWsKey(WS_KEY);
		const error = await trigger.waitForError();
		expect(error).toBeInstanceOf(NodeApiError);
		expect(error.message).toMatch(/Tachyon refused the WebSocket key/);
		expect(emulator.stats.connectionsAccepted).toBe(1);
		const attempts = emulator.stats.connectionsAccepted + emulator.stats.connectionsRefused;
		// Longer than the first reconnect delay (250–500 ms): a retry would happen within it.
		await staysTrue(() => {
			expect(trigger.errors).toHaveLength(1);
			expect(emulator.stats.connectionsAccepted + emulator.stats.connectionsRefused).toBe(attempts);
		});
		expect(error.message).not.toContain(WS_KEY);
	});

	test('a plain-text (not JSON) unauthorized message is also one fatal error, not a reconnect loop', async () => {
		const trigger = await activate();
		emulator.sendRawToAll('Unauthorized: invalid x-ws-token');
		const error = await trigger.waitForError();
		expect(error.message).toMatch(/Tachyon refused the WebSocket key \("Unauthorized: invalid x-ws-token"\)/);
		await eventually(() => expect(emulator.openConnectionCount()).toBe(0));
		// No reconnect (the key still works, so a retry would be accepted) and no second error.
		await staysTrue(() => {
			expect(trigger.errors).toHaveLength(1);
			expect(emulator.stats.connectionsAccepted + emulator.stats.connectionsRefused).toBe(1);
			expect(emulator.openConnectionCount()).toBe(0);
		});
	});

	test('an upgrade refused with HTTP 403 is an authentication error', async () => {
		emulator.setRefuseUpgrades(403);
		const error = await activationError(credentials());
		expect(error.message).toMatch(/refused the credentials \(HTTP 403/);
	});

	test('an unreachable host fails activation; the editor names the URL without any secret', async () => {
		const port = emulator.port;
		const creds = credentials();
		await emulator.close();
		const error = await activationError(creds);
		expect(nodeErrorName(error)).toBe('NodeApiError');
		const run = await runManually({ nodeType: new TachyonTrigger(), parameters: PARAMETERS as never, credentials: creds });
		const description = (run.error as NodeApiError).description ?? '';
		expect(description).toContain(`ws://127.0.0.1:${port}/ws`);
		for (const secret of SECRETS) expect(description + run.error?.message + error.message).not.toContain(secret);
		await startEmulator();
	});
});

describe('frames', () => {
	test('malformed and unknown frames are logged and skipped; later updates still arrive', async () => {
		const trigger = await activate();
		emulator.sendRawToAll('{"txId":');
		emulator.sendRawToAll(JSON.stringify({ type: 'notification', data: { status: 'PENDING' } }));
		emulator.sendRawToAll(JSON.stringify({ type: 'subscribed', channel: 'x' }));
		emulator.sendRawToAll(JSON.stringify({ status: 'PENDING' }));
		const tx = emulator.submit(API_KEY);
		await trigger.waitForItems(1);
		await staysTrue(() => expect(trigger.items().map((i) => i.id)).toEqual([tx.id]));
		const warnings = engineLogs.messages('warn').join('\n');
		expect(warnings).toContain('not JSON');
		expect(warnings).toContain('Tachyon: skipped "notification" frame: txId a transaction needs "txId" or "id"');
		expect(warnings).toContain('Tachyon: skipped a frame with type "subscribed"');
		expect(warnings).toContain('Tachyon: skipped a transaction frame without "txId" or "id"');
		expect(trigger.errors).toEqual([]);
	});

	test('a failed transaction whose error reads "Unauthorized" is an item, not a refused key', async () => {
		const trigger = await activate();
		emulator.sendRawToAll(JSON.stringify({ txId: 'fedcba9876543210fedcba98', status: 'FAILED', retries: 0, error: 'execution reverted: Unauthorized' }));
		const [item] = await trigger.waitForItems(1);
		expect(item).toMatchObject({ phase: 'failed', error: 'execution reverted: Unauthorized' });
		await staysTrue(() => {
			expect(trigger.errors).toEqual([]);
			expect(emulator.openConnectionCount()).toBe(1);
		});
	});
});

describe('credential test', () => {
	const checkCredential = (data: Record<string, string>) => testCredential(new TachyonTrigger(), 'tachyonApiCredentialTest', 'tachyonApi', data);

	test('accepts a right API key and JWT, and tells which one is wrong', async () => {
		expect(await checkCredential(credentials().tachyonApi)).toEqual({ status: 'OK', message: 'Tachyon accepted the API key and the dashboard JWT' });
		expect(await checkCredential(credentials({ dashboardJwt: '' }).tachyonApi)).toEqual({ status: 'OK', message: 'Tachyon accepted the API key' });

		const wrongKey = await checkCredential(credentials({ apiKey: 'not-the-api-key-42' }).tachyonApi);
		expect(wrongKey.status).toBe('Error');
		expect(wrongKey.message).toBe('Checking the API key failed with HTTP 401: Invalid API key');

		const wrongJwt = await checkCredential(credentials({ dashboardJwt: 'not-the-jwt-0000' }).tachyonApi);
		expect(wrongJwt.status).toBe('Error');
		expect(wrongJwt.message).toBe('The API key was accepted, but: Checking the dashboard JWT failed with HTTP 401: Malformed or invalid JWT');
	});

	test('a service that is down, or a base URL that is not Tachyon, is an error', async () => {
		const creds = credentials().tachyonApi;
		await emulator.close();
		const down = await checkCredential(creds);
		expect(down.status).toBe('Error');
		expect(down.message).toMatch(/^Checking the API key: Could not reach GET http:\/\/127\.0\.0\.1:\d+\/api\/tx\?id=0{24}/);
		await startEmulator();

		const website = createServer((_request, response) => response.writeHead(404, { 'content-type': 'text/html' }).end('<html>Not here</html>'));
		await new Promise<void>((resolve) => website.listen(0, '127.0.0.1', resolve));
		const notTachyon = await checkCredential({ ...creds, baseUrl: `http://127.0.0.1:${(website.address() as AddressInfo).port}` });
		website.closeAllConnections();
		await new Promise<void>((resolve) => website.close(() => resolve()));
		expect(notTachyon.status).toBe('Error');
		expect(notTachyon.message).toMatch(/answered HTTP 404 without JSON: is it Tachyon's API\?/);
	});
});

describe('lifecycle', () => {
	// Deactivation and a cancelled reconnect: test/lifecycle.test.ts (every service).
	test('activating and deactivating repeatedly, with registration, leaks no connection or timer', async () => {
		const timersBefore = activeTimerCount();
		for (let i = 0; i < 5; i++) {
			const trigger = await activate(i % 2 === 0 ? credentials() : registeringCredentials());
			await trigger.deactivate();
		}
		await eventually(() => expect(emulator.openConnectionCount()).toBe(0));
		await eventually(() => expect(activeTimerCount()).toBe(timersBefore));
		expect(emulator.stats.connectionsAccepted).toBe(5);
		expect(emulator.stats.registrations).toBe(2);
	});

	test('the keep-alive (WebSocket protocol pings) notices a server that stopped answering and reconnects', async () => {
		const items: NormalizedItem[] = [];
		const logger = new CapturingLogger();
		const stream = streamFor(items, { keepAlive: { intervalMs: 50, timeoutMs: 100 }, backoff: { initialMs: 20 }, logger });
		await stream.start();
		await eventually(() => expect(emulator.stats.protocolPings).toBeGreaterThan(2));
		// Only the one greeting probe travels as a message: liveness does not depend on echoes.
		expect(emulator.stats.clientMessages).toBe(1);
		emulator.setAnswerPings(false);
		await eventually(() => expect(emulator.stats.connectionsAccepted).toBeGreaterThanOrEqual(2), 3000);
		emulator.setAnswerPings(true);
		emulator.submit(API_KEY);
		await eventually(() => expect(items).toHaveLength(1));
		expect(logger.messages('debug').join('\n')).toContain('no answer to keep-alive within 100 ms');
		await stream.close();
		await eventually(() => expect(emulator.openConnectionCount()).toBe(0));
	});

	test('a server that neither greets nor echoes is taken as ready after the greeting wait', async () => {
		await emulator.close();
		await startEmulator('legacy');
		emulator.setAnswerPings(false);
		const items: NormalizedItem[] = [];
		const stream = streamFor(items, { greetingWaitMs: 150 });
		const started = Date.now();
		await stream.start();
		expect(Date.now() - started).toBeGreaterThanOrEqual(140);
		const tx = emulator.submit(API_KEY);
		await eventually(() => expect(items.map((i) => i.id)).toEqual([tx.id]));
		await stream.close();
		await eventually(() => expect(emulator.openConnectionCount()).toBe(0));
	});

	test('closing before the start finished leaves nothing behind', async () => {
		const timersBefore = activeTimerCount();
		const stream = streamFor([], {});
		const starting = stream.start();
		await stream.close();
		await starting;
		await eventually(() => expect(emulator.openConnectionCount()).toBe(0));
		await eventually(() => expect(activeTimerCount()).toBe(timersBefore));
	});
});
