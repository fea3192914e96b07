/**
 * n8n honours HTTP_PROXY / HTTPS_PROXY / NO_PROXY by installing proxy agents as Node's global
 * agents. Here a counting agent stands in for n8n's proxy agent: every REST call and every socket
 * of the nodes must go through whatever `http.globalAgent` is at the time (fetch and `ws` without
 * an agent would bypass it), and the sockets offer no per-message deflate.
 */
import http = require('node:http');

import { KurierEmulator } from '../emulators/kurier';
import { Kurier } from '../nodes/Kurier/Kurier.node';
import { KurierTrigger } from '../nodes/Kurier/KurierTrigger.node';
import { activateTrigger, runManually } from './helpers/n8nEngine';

type CreateConnection = (options: http.ClientRequestArgs, ...rest: unknown[]) => unknown;

/** An agent that records where it connects: what n8n's proxy agent would carry. */
function countingAgent(): { agent: http.Agent; connections: string[] } {
	const agent = new http.Agent({ keepAlive: false });
	const connections: string[] = [];
	const writable = agent as unknown as { createConnection: CreateConnection };
	const create = writable.createConnection.bind(agent);
	writable.createConnection = (options, ...rest) => {
		connections.push(`${options.host ?? options.hostname}:${options.port}`);
		return create(options, ...rest);
	};
	return { agent, connections };
}

/** n8n assigns the module's property; so does the test (the module object, not an import copy). */
function setGlobalAgent(agent: http.Agent): void {
	(http as unknown as { globalAgent: http.Agent }).globalAgent = agent;
}

const API_KEY = 'proxy-test-key';
let emulator: KurierEmulator;
const originalAgent = http.globalAgent;

beforeAll(async () => {
	emulator = await KurierEmulator.start({ apiKeys: [API_KEY] });
});

afterEach(() => setGlobalAgent(originalAgent));

afterAll(async () => await emulator.close());

test('REST calls and WebSocket connections go through the global agent installed after the nodes were loaded', async () => {
	// Installed now, as n8n does at start-up: read at each request, not when the module loaded.
	const { agent, connections } = countingAgent();
	setGlobalAgent(agent);
	const credentials = { kurierApi: { environment: 'custom', baseUrl: emulator.restBaseUrl, apiKey: API_KEY } };
	const extensions: Array<string | undefined> = [];
	emulator.onUpgradeRequest = (req) => extensions.push(req.headers['sec-websocket-extensions']);

	const trigger = await activateTrigger({ nodeType: new KurierTrigger(), parameters: { event: 'allJobs', statuses: [] }, credentials });
	try {
		const submitted = await runManually({
			nodeType: new Kurier(),
			parameters: { operation: 'submitProof', proofType: 'groth16', proofOptions: '{}', inputSource: 'json', vkMode: 'inline', proof: '{"a":1}', publicSignals: '["1"]', vk: '{"v":1}', options: {} },
			credentials,
		});
		expect(submitted.error).toBeUndefined();
		await trigger.waitForItems(1);
	} finally {
		await trigger.deactivate();
	}
	const emulatorAddress = `127.0.0.1:${emulator.port}`;
	// The socket (upgrade) and the submit-proof call at least.
	expect(connections.filter((address) => address === emulatorAddress).length).toBeGreaterThanOrEqual(2);
	expect(extensions.length).toBeGreaterThan(0);
	expect(extensions.every((value) => value === undefined)).toBe(true);
});
