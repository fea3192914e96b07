/**
 * Allfeat ATS credential: the host choice (the two documented hosts, or custom; credentials saved
 * with a plain URL keep working) and no credentials on the tracking routes, so a revoked or
 * widget-scoped key cannot break tracking. Nodes inside n8n-core's engine, real HTTP and WebSocket
 * to the Allfeat emulator on 127.0.0.1.
 */
import { NodeHelpers } from 'n8n-workflow';
import type { ICredentialDataDecryptedObject, INodeParameters } from 'n8n-workflow';
import { WebSocket } from 'ws';

import { AllfeatEmulator } from '../emulators/allfeat';
import type { AllfeatEmulatorOptions } from '../emulators/allfeat';
import { AllfeatAtsApi } from '../credentials/AllfeatAtsApi.credentials';
import { AllfeatAts } from '../nodes/AllfeatAts/AllfeatAts.node';
import { AllfeatAtsTrigger } from '../nodes/AllfeatAts/AllfeatAtsTrigger.node';
import { AllfeatAtsApiClient, resolveAllfeatConnection } from '../nodes/AllfeatAts/AllfeatAtsApiClient';
import { activateTrigger, engineLogs, runManually, testCredential } from './helpers/n8nEngine';
import { TestScope } from './helpers/testScope';

const scope = new TestScope();

const KEY = `afo_sk_live_${'5a3b'.repeat(12)}`;
const WIDGET_SECRET_KEY = `csk_live_${'77'.repeat(16)}`;
const DOCUMENTED_STEPS = ['validating', 'preparing_transaction', 'signing', 'submitting', 'confirming', 'completed'];

let emulator: AllfeatEmulator | undefined;

async function startEmulator(options: AllfeatEmulatorOptions = {}) {
	await emulator?.close();
	emulator = await AllfeatEmulator.start({ apiKeys: [KEY], ...options });
	return emulator;
}

/** What n8n hands a node for a saved credential: its data with the defaults applied (CredentialsHelper.applyDefaultsAndOverwrites). */
function asN8nLoadsIt(saved: ICredentialDataDecryptedObject): ICredentialDataDecryptedObject {
	return NodeHelpers.getNodeParameters(new AllfeatAtsApi().properties, saved as INodeParameters, true, false, null, null) as ICredentialDataDecryptedObject;
}

async function followToEnd(credential: ICredentialDataDecryptedObject) {
	const service = emulator!;
	const tx = service.createTransaction();
	const trigger = await activateTrigger({ nodeType: new AllfeatAtsTrigger(), parameters: { transactionIds: tx.id, steps: [] } as never, credentials: { allfeatAtsApi: credential } });
	scope.track(trigger);
	await trigger.waitForItems(1);
	service.advanceToEnd(tx.id);
	await trigger.waitForItems(DOCUMENTED_STEPS.length);
	return { tx, trigger };
}

/** A raw GET / upgrade with a bearer, to show what the emulator does with one. */
async function restStatusWithBearer(service: AllfeatEmulator, id: string, key: string) {
	const response = await fetch(`${service.baseUrl}/v1/transactions/${id}`, { headers: { authorization: `Bearer ${key}` } });
	return { status: response.status, code: ((await response.json()) as { error?: { code?: string } }).error?.code };
}

function upgradeStatusWithBearer(service: AllfeatEmulator, id: string, key: string): Promise<number> {
	return new Promise((resolve, reject) => {
		const socket = new WebSocket(`${service.baseUrl.replace('http', 'ws')}/v1/ws/transactions/${id}`, { headers: { authorization: `Bearer ${key}` } });
		socket.on('unexpected-response', (_request, response) => {
			resolve(response.statusCode ?? 0);
			socket.terminate();
		});
		socket.on('open', () => {
			resolve(101);
			socket.close();
		});
		socket.on('error', (error) => (error.message.includes('Unexpected server response') ? undefined : reject(error)));
	});
}

beforeEach(() => engineLogs.clear());

afterEach(async () => {
	await scope.end();
	await emulator?.close();
	emulator = undefined;
});

afterAll(() => {
	for (const secret of [KEY, WIDGET_SECRET_KEY]) expect(engineLogs.text()).not.toContain(secret);
});

describe('no credentials on the tracking routes', () => {
	describe.each(['checked', 'ignored'] as const)('a service whose tracking routes treat a bearer as "%s"', (bearerOnTracking) => {
		test('what the emulator does with a bearer it is given (the risk the package avoids)', async () => {
			const service = await startEmulator({ bearerOnTracking });
			const tx = service.createTransaction();
			service.revokeApiKey(KEY);
			const rest = await restStatusWithBearer(service, tx.id, KEY);
			const upgrade = await upgradeStatusWithBearer(service, tx.id, KEY);
			if (bearerOnTracking === 'checked') {
				expect(rest).toEqual({ status: 401, code: 'api_key.revoked' });
				expect(upgrade).toBe(401);
			} else {
				expect(rest.status).toBe(200);
				expect(upgrade).toBe(101);
			}
		});

		test('a revoked key in the credential does not break the trigger: every step, live, nothing sent', async () => {
			const service = await startEmulator({ bearerOnTracking });
			service.revokeApiKey(KEY);
			const { trigger } = await followToEnd({ baseUrl: service.baseUrl, apiKey: KEY, webhookSecret: '' });
			expect(trigger.items().map((item) => item.status)).toEqual(DOCUMENTED_STEPS);
			expect(trigger.errors).toEqual([]);
			expect(service.stats.connectionsAccepted).toBeGreaterThan(0);
			expect(service.stats.restRequests).toBeGreaterThan(0);
			expect(service.stats.trackingRequestsWithAuthorization).toBe(0);
		});

		test('a widget-scoped key in the credential does not break polling or Get Transaction / Wait for Transaction', async () => {
			const service = await startEmulator({ bearerOnTracking });
			service.setRefuseUpgrades(404);
			const credential = { baseUrl: service.baseUrl, apiKey: WIDGET_SECRET_KEY, webhookSecret: '' };
			const tx = service.createTransaction();
			service.advanceToEnd(tx.id);
			const got = await runManually({ nodeType: new AllfeatAts(), parameters: { operation: 'getTransaction', transactionId: tx.id } as never, credentials: { allfeatAtsApi: credential } }, [{ json: {} }]);
			expect(got.error).toBeUndefined();
			expect(got.items[0]).toMatchObject({ id: tx.id, status: 'completed' });
			const waited = await runManually(
				{
					nodeType: new AllfeatAts(),
					parameters: { operation: 'waitForTransaction', transactionId: tx.id, timeoutSeconds: 10, failOnTransactionFailure: true } as never,
					credentials: { allfeatAtsApi: credential },
				},
				[{ json: {} }],
			);
			expect(waited.error).toBeUndefined();
			expect(waited.items[0]).toMatchObject({ status: 'completed', isFinal: true });
			expect(service.stats.trackingRequestsWithAuthorization).toBe(0);
		});
	});
});

describe('the host choice', () => {
	test('the credential offers the host serving tracking first, then the ATS host, then custom with a URL field', () => {
		const [host, custom, apiKey, organizationId, webhookSecret] = new AllfeatAtsApi().properties;
		expect(host).toMatchObject({ name: 'baseUrl', type: 'options', default: 'https://organizations.api.allfeat.org' });
		expect(host.options?.map((option) => (option as { value: string }).value)).toEqual(['https://organizations.api.allfeat.org', 'https://ats.api.allfeat.org', 'custom']);
		expect(custom).toMatchObject({ name: 'customBaseUrl', type: 'string', displayOptions: { show: { baseUrl: ['custom'] } } });
		expect([apiKey.name, organizationId.name, webhookSecret.name]).toEqual(['apiKey', 'organizationId', 'webhookSecret']);
	});

	test('REST and WebSocket URLs derive from the chosen host', () => {
		const urls = (fields: Record<string, unknown>) => {
			const client = new AllfeatAtsApiClient(resolveAllfeatConnection(fields));
			return { rest: resolveAllfeatConnection(fields).baseUrl, socket: client.transactionSocketUrl('6f1c2a4e-9b7d-4c3e-8f21-0a5b6c7d8e9f') };
		};
		const id = '6f1c2a4e-9b7d-4c3e-8f21-0a5b6c7d8e9f';
		expect(urls(asN8nLoadsIt({}))).toEqual({ rest: 'https://organizations.api.allfeat.org', socket: `wss://organizations.api.allfeat.org/v1/ws/transactions/${id}` });
		expect(urls({ baseUrl: 'https://ats.api.allfeat.org' })).toEqual({ rest: 'https://ats.api.allfeat.org', socket: `wss://ats.api.allfeat.org/v1/ws/transactions/${id}` });
		expect(urls({ baseUrl: 'custom', customBaseUrl: 'http://127.0.0.1:4020/v1/' })).toEqual({ rest: 'http://127.0.0.1:4020', socket: `ws://127.0.0.1:4020/v1/ws/transactions/${id}` });
		// Saved before the choice existed: the URL itself in baseUrl.
		expect(urls({ baseUrl: 'https://proxy.example.com/allfeat' })).toEqual({ rest: 'https://proxy.example.com/allfeat', socket: `wss://proxy.example.com/allfeat/v1/ws/transactions/${id}` });
		expect(() => resolveAllfeatConnection({ baseUrl: 'custom' })).toThrow(/Custom Base URL is empty/);
		expect(() => resolveAllfeatConnection({ baseUrl: 'custom', customBaseUrl: 'ats.api.allfeat.org' })).toThrow(/is not an http\(s\) URL/);
	});

	test('a credential saved with a plain baseUrl string (as the e2e harness creates it) still works, through n8n\'s credential defaults', async () => {
		const service = await startEmulator();
		const loaded = asN8nLoadsIt({ baseUrl: service.baseUrl, apiKey: KEY, webhookSecret: '' });
		expect(loaded.baseUrl).toBe(service.baseUrl);
		const { trigger } = await followToEnd(loaded);
		expect(trigger.items().map((item) => item.status)).toEqual(DOCUMENTED_STEPS);
		expect(await testCredential(new AllfeatAtsTrigger(), 'allfeatAtsApiCredentialTest', 'allfeatAtsApi', loaded)).toMatchObject({ status: 'OK' });
	});

	test('Custom with a URL field: the trigger connects to that host over REST and WebSocket', async () => {
		const service = await startEmulator();
		const loaded = asN8nLoadsIt({ baseUrl: 'custom', customBaseUrl: service.baseUrl, apiKey: '' });
		const { trigger } = await followToEnd(loaded);
		expect(trigger.items().map((item) => item.status)).toEqual(DOCUMENTED_STEPS);
		expect(service.stats.connectionsAccepted).toBe(1);
		expect(await testCredential(new AllfeatAtsTrigger(), 'allfeatAtsApiCredentialTest', 'allfeatAtsApi', loaded)).toEqual({
			status: 'OK',
			message: `Allfeat ATS answered at ${service.baseUrl} (tracking, no credentials needed).`,
		});
	});

	test('a host that serves the REST route but no WebSocket (404 on upgrade; undocumented for either host) is followed by polling', async () => {
		const service = await startEmulator();
		service.setRefuseUpgrades(404);
		const tx = service.createTransaction();
		service.advanceToEnd(tx.id);
		const trigger = await activateTrigger({
			nodeType: new AllfeatAtsTrigger(),
			parameters: { transactionIds: tx.id, steps: [] } as never,
			credentials: { allfeatAtsApi: asN8nLoadsIt({ baseUrl: 'custom', customBaseUrl: service.baseUrl }) },
		});
		scope.track(trigger);
		await trigger.waitForItems(DOCUMENTED_STEPS.length);
		expect(trigger.items().map((item) => item.status)).toEqual(DOCUMENTED_STEPS);
		expect(service.stats.connectionsAccepted).toBe(0);
	});
});
