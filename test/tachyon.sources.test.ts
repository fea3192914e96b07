/**
 * Where Tachyon's public sources disagree (issue 8), over real HTTP and WebSocket to the emulator
 * serving each variant, nodes in n8n's engine:
 * - registering the WebSocket with the dashboard JWT (newest page) or the API key (SDK, older page);
 * - a server that echoes client messages (newest page) or not: liveness by protocol pings;
 * - the host: tachyon.rath.fi, api.tachyon.rath.fi or custom, and credentials saved before it was a choice.
 */
import { TachyonEmulator } from '../emulators/tachyon';
import type { RegisterAuth, TachyonFrameShape } from '../emulators/tachyon';
import { TachyonApi } from '../credentials/TachyonApi.credentials';
import type { NormalizedItem } from '../nodes/shared/NormalizedItem';
import { ReconnectingSocket } from '../nodes/shared/ReconnectingSocket';
import { CredentialError } from '../nodes/shared/credentialFields';
import { Tachyon } from '../nodes/Tachyon/Tachyon.node';
import { TachyonApiClient, resolveTachyonConnection } from '../nodes/Tachyon/TachyonApiClient';
import { TachyonStream } from '../nodes/Tachyon/TachyonStream';
import { TachyonTrigger } from '../nodes/Tachyon/TachyonTrigger.node';
import { TACHYON_CREDENTIAL_TEST } from '../nodes/Tachyon/tachyonNodeCommon';
import { webSocketUrlFor } from '../nodes/Tachyon/protocol';
import { CapturingLogger } from './helpers/logs';
import { activateTriggerExpectingError, engineLogs, runManually, testCredential } from './helpers/n8nEngine';
import { TestScope } from './helpers/testScope';
import { activeTimerCount, eventually } from './helpers/wait';

const scope = new TestScope();

const API_KEY = 'tachyon-sources-key-71c0aa';
const JWT = 'eyJhbGciOiJIUzI1NiJ9.dGFjaHlvbi1zb3VyY2Vz.c2lnbmF0dXJlNA';
const WS_KEY = 'ws_sources_3e9d02b7c1';
const SECRETS = [API_KEY, JWT, WS_KEY];
const PARAMETERS = { statuses: [], txIds: '', chainIds: '' };
let emulator: TachyonEmulator;

async function startEmulator(options: { registerWith?: RegisterAuth; echo?: boolean; frameShape?: TachyonFrameShape; wsKey?: string | null } = {}) {
	const wsKey = options.wsKey === undefined ? WS_KEY : (options.wsKey ?? undefined);
	emulator = await TachyonEmulator.start({ registerWith: options.registerWith, echo: options.echo, frameShape: options.frameShape, accounts: [{ apiKey: API_KEY, dashboardJwt: JWT, wsKey }] });
}

/** The API key alone: no JWT, no WebSocket fields. */
const apiKeyOnly = (overrides: Record<string, string> = {}): { tachyonApi: Record<string, string> } => ({ tachyonApi: { baseUrl: emulator.baseUrl, apiKey: API_KEY, ...overrides } });

const activate = scope.activator((creds: ReturnType<typeof apiKeyOnly>) => ({ nodeType: new TachyonTrigger(), parameters: PARAMETERS as never, credentials: creds }));

function streamFor(items: NormalizedItem[], fields: Record<string, string>, options: Partial<ConstructorParameters<typeof TachyonStream>[0]> = {}) {
	return new TachyonStream({
		client: new TachyonApiClient(resolveTachyonConnection({ baseUrl: emulator.baseUrl, apiKey: API_KEY, ...fields })),
		onItem: (item) => items.push(item),
		onFatal: (error) => {
			throw error;
		},
		...options,
	});
}

beforeEach(() => engineLogs.clear());

afterEach(async () => {
	await scope.end();
	await emulator?.close();
});

afterAll(() => {
	const logs = engineLogs.text();
	for (const secret of SECRETS) expect(logs).not.toContain(secret);
});

describe('registering the WebSocket: dashboard JWT or API key', () => {
	test('with the API key alone, the trigger registers with it (api-key header) and streams', async () => {
		// The key does not exist until registration creates it, as for a new account.
		await startEmulator({ wsKey: null });
		const trigger = await activate(apiKeyOnly());
		expect(emulator.stats).toMatchObject({ registrations: 1, registrationsByApiKey: 1, registrationsByJwt: 0, connectionsAccepted: 1 });
		const tx = emulator.submit(API_KEY);
		emulator.advanceToEnd(tx.id);
		await trigger.waitForItems(3);
		const registeredKey = emulator.wsKeyOf(API_KEY);
		expect(JSON.stringify(trigger.items())).not.toContain(registeredKey);
		expect(engineLogs.text()).not.toContain(registeredKey);
	});

	test.each<RegisterAuth>(['both', 'apiKey'])('a service that registers with %s: the Register WebSocket operation works with the API key alone', async (registerWith) => {
		await startEmulator({ registerWith });
		const result = await runManually({ nodeType: new Tachyon(), parameters: { operation: 'registerWebsocket' } as never, credentials: apiKeyOnly() }, [{ json: {} }]);
		expect(result.error).toBeUndefined();
		expect(result.items).toEqual([{ wsUrl: emulator.wsUrl, wsKey: WS_KEY }]);
		expect(emulator.stats.registrationsByApiKey).toBe(1);
	});

	test.each<RegisterAuth>(['both', 'jwt'])('a service that registers with %s: a credential with the JWT registers with the JWT', async (registerWith) => {
		await startEmulator({ registerWith, wsKey: null });
		const trigger = await activate(apiKeyOnly({ dashboardJwt: JWT }));
		expect(emulator.stats).toMatchObject({ registrationsByJwt: 1, registrationsByApiKey: 0 });
		emulator.submit(API_KEY);
		await trigger.waitForItems(1);
	});

	test('a service that registers with the JWT only: the API key alone is a clear error that names the way out', async () => {
		await startEmulator({ registerWith: 'jwt' });
		const error = await activateTriggerExpectingError({ nodeType: new TachyonTrigger(), parameters: PARAMETERS as never, credentials: apiKeyOnly() });
		expect((error.cause as Error).name).toBe('NodeApiError');
		expect(error.message).toMatch(/Registering the WebSocket \(with the API key\) failed with HTTP 401: .*This host may only register WebSockets with the dashboard JWT/);
		expect(JSON.stringify(error) + error.message).not.toContain(API_KEY);
		expect(emulator.stats.connectionsAccepted).toBe(0);
	});

	test('the older page spells the header "apikey": the emulator takes it, as the client sends both spellings', async () => {
		await startEmulator({ registerWith: 'apiKey' });
		const response = await fetch(`${emulator.baseUrl}/api/user/register-websocket`, { method: 'POST', headers: { apikey: API_KEY, 'content-type': 'application/json' }, body: '{}' });
		expect(response.status).toBe(200);
		expect(((await response.json()) as { data: { apiKey: string } }).data.apiKey).toBe(WS_KEY);
	});
});

describe('keep-alive on a server that does not echo', () => {
	test.each<TachyonFrameShape>(['bare', 'notification', 'legacy'])(
		'%s frames, no echo: the stream stays on one connection across many keep-alive periods',
		async (frameShape) => {
			await startEmulator({ echo: false, frameShape });
			const items: NormalizedItem[] = [];
			const logger = new CapturingLogger();
			const stream = streamFor(items, { wsUrl: emulator.wsUrl, wsKey: WS_KEY }, { keepAlive: { intervalMs: 40, timeoutMs: 80 }, greetingWaitMs: 100, logger });
			await stream.start();
			// At least 8 keep-alive periods, however slowly the machine's timers run.
			await eventually(() => expect(emulator.stats.protocolPings).toBeGreaterThanOrEqual(8), 10_000);
			expect(emulator.stats.connectionsAccepted).toBe(1);
			expect(stream.socketStats?.reconnects).toBe(0);
			expect(emulator.stats.transactionReads).toBe(0);
			expect(logger.messages('debug').join('\n')).not.toContain('no answer to keep-alive');
			const tx = emulator.submit(API_KEY);
			await eventually(() => expect(items.map((i) => i.id)).toEqual([tx.id]));
			await stream.close();
			await eventually(() => expect(emulator.openConnectionCount()).toBe(0));
		},
	);

	test('why: keep-alive by application ping would take the same server for dead every period', async () => {
		await startEmulator({ echo: false });
		const socket = new ReconnectingSocket({
			url: emulator.wsUrl,
			headers: { 'x-ws-token': WS_KEY },
			redact: (text) => text,
			keepAlive: { intervalMs: 40, timeoutMs: 80, pingFrame: { type: 'ping' } },
			backoff: { initialMs: 10, maxMs: 20 },
		});
		await socket.start();
		await eventually(() => expect(emulator.stats.connectionsAccepted).toBeGreaterThanOrEqual(3), 3000);
		await socket.close();
	});

	test('the trigger in the engine runs against a server that does not echo', async () => {
		await startEmulator({ echo: false });
		const trigger = await activate(apiKeyOnly({ wsUrl: emulator.wsUrl, wsKey: WS_KEY }));
		const tx = emulator.submit(API_KEY, { willRetry: 1 });
		emulator.advanceToEnd(tx.id);
		await trigger.waitForItems(5);
		// The one greeting probe; nothing else is sent as a message.
		await eventually(() => expect(emulator.stats.clientMessages).toBe(1));
		expect(trigger.errors).toEqual([]);
	});
});

describe('hosts', () => {
	test('the credential offers the documented hosts and custom, default tachyon.rath.fi', () => {
		const baseUrl = new TachyonApi().properties.find((p) => p.name === 'baseUrl')!;
		expect(baseUrl.type).toBe('options');
		expect(baseUrl.default).toBe('https://tachyon.rath.fi');
		expect((baseUrl.options as Array<{ value: string }>).map((o) => o.value)).toEqual(['https://tachyon.rath.fi', 'https://api.tachyon.rath.fi', 'custom']);
	});

	test.each([
		[{ baseUrl: 'https://tachyon.rath.fi' }, 'https://tachyon.rath.fi', 'wss://tachyon.rath.fi/ws'],
		[{ baseUrl: 'https://api.tachyon.rath.fi' }, 'https://api.tachyon.rath.fi', 'wss://api.tachyon.rath.fi/ws'],
		[{}, 'https://tachyon.rath.fi', 'wss://tachyon.rath.fi/ws'],
		[{ baseUrl: 'custom', customBaseUrl: 'http://127.0.0.1:4030/api/' }, 'http://127.0.0.1:4030', 'ws://127.0.0.1:4030/ws'],
		[{ baseUrl: 'custom', customBaseUrl: 'https://relay.example.com' }, 'https://relay.example.com', 'wss://relay.example.com/ws'],
		// Saved when Base URL was free text: the URL is used as it is.
		[{ baseUrl: 'http://127.0.0.1:4031' }, 'http://127.0.0.1:4031', 'ws://127.0.0.1:4031/ws'],
		[{ baseUrl: 'https://api.tachyon.rath.fi/api' }, 'https://api.tachyon.rath.fi', 'wss://api.tachyon.rath.fi/ws'],
	])('%j: REST %s, WebSocket (key stored, no URL) %s', (fields, rest, ws) => {
		const connection = resolveTachyonConnection({ apiKey: API_KEY, wsKey: WS_KEY, ...fields });
		expect(connection.baseUrl).toBe(rest);
		expect(connection.webSocket).toEqual({ url: ws, key: WS_KEY });
		expect(webSocketUrlFor(rest)).toBe(ws);
	});

	test('a stored WebSocket URL wins over the derived one; no key means registration', () => {
		expect(resolveTachyonConnection({ apiKey: API_KEY, wsKey: WS_KEY, wsUrl: 'wss://ws.example.com/socket' }).webSocket?.url).toBe('wss://ws.example.com/socket');
		expect(resolveTachyonConnection({ apiKey: API_KEY, wsUrl: 'wss://ws.example.com/socket' }).webSocket).toBeNull();
	});

	test('Custom without a Custom Base URL is a clear error', () => {
		expect(() => resolveTachyonConnection({ apiKey: API_KEY, baseUrl: 'custom' })).toThrow(CredentialError);
		expect(() => resolveTachyonConnection({ apiKey: API_KEY, baseUrl: 'custom' })).toThrow(/Custom Base URL is empty/);
	});

	test('custom host with a stored key and no URL: the trigger connects to the derived URL without registering', async () => {
		await startEmulator();
		const trigger = await activate({ tachyonApi: { baseUrl: 'custom', customBaseUrl: emulator.baseUrl, apiKey: API_KEY, wsKey: WS_KEY, wsUrl: '' } });
		expect(emulator.stats.registrations).toBe(0);
		expect(emulator.openConnectionCount(WS_KEY)).toBe(1);
		emulator.submit(API_KEY);
		await trigger.waitForItems(1);
	});

	test('custom host: actions and the credential test use the Custom Base URL', async () => {
		await startEmulator();
		const creds = { baseUrl: 'custom', customBaseUrl: emulator.baseUrl, apiKey: API_KEY };
		const tx = emulator.submit(API_KEY);
		const result = await runManually({ nodeType: new Tachyon(), parameters: { operation: 'getTransaction', txId: tx.id } as never, credentials: { tachyonApi: creds } }, [{ json: {} }]);
		expect(result.items).toEqual([expect.objectContaining({ id: tx.id, status: 'NOT_PICKED_UP' })]);
		expect(await testCredential(new Tachyon(), TACHYON_CREDENTIAL_TEST, 'tachyonApi', creds)).toEqual({ status: 'OK', message: 'Tachyon accepted the API key' });
		const empty = await testCredential(new Tachyon(), TACHYON_CREDENTIAL_TEST, 'tachyonApi', { ...creds, customBaseUrl: '' });
		expect(empty.status).toBe('Error');
		expect(empty.message).toMatch(/Custom Base URL is empty/);
	});

	test('registering, activating and deactivating with the API key leaves no socket or timer behind', async () => {
		await startEmulator();
		const timersBefore = activeTimerCount();
		for (let round = 0; round < 3; round++) {
			const trigger = await activate(apiKeyOnly());
			await trigger.deactivate();
		}
		await eventually(() => expect(emulator.openConnectionCount()).toBe(0));
		await eventually(() => expect(activeTimerCount()).toBe(timersBefore));
		expect(emulator.stats.registrationsByApiKey).toBe(3);
	});
});
