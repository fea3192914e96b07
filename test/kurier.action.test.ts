/**
 * Kurier action node inside n8n's engine (WorkflowExecute in manual mode, input items pinned),
 * over real HTTP and WebSocket to the Kurier emulator.
 */
import type { INodeExecutionData, NodeApiError } from 'n8n-workflow';
import { BINARY_ENCODING } from 'n8n-workflow';

import { KurierEmulator } from '../emulators/kurier';
import { Kurier } from '../nodes/Kurier/Kurier.node';
import { engineLogs, runManually } from './helpers/n8nEngine';
import { activeTimerCount, eventually } from './helpers/wait';
import { TestScope } from './helpers/testScope';

const scope = new TestScope();
const { later } = scope;

const KEY = 'kurier-action-key-41b7';
let emulator: KurierEmulator;

const groth16Proof = { pi_a: ['1', '2', '1'], pi_b: [['1', '2'], ['3', '4'], ['1', '0']], pi_c: ['5', '6', '1'], protocol: 'groth16', curve: 'bn128' };
const groth16Vk = { protocol: 'groth16', curve: 'bn128', nPublic: 1, vk_alpha_1: ['1', '2', '1'] };

const credentials = (apiKey = KEY) => ({ kurierApi: { environment: 'custom', baseUrl: emulator.restBaseUrl, apiKey } });

async function run(parameters: Record<string, unknown>, options: { input?: INodeExecutionData[]; apiKey?: string; continueOnFail?: boolean } = {}) {
	const nodeType = new Kurier();
	return await runManually(
		{ nodeType, parameters: parameters as never, credentials: credentials(options.apiKey) },
		options.input ?? [{ json: {} }],
	);
}

const submitParameters = (overrides: Record<string, unknown> = {}) => ({
	operation: 'submitProof',
	proofType: 'groth16',
	proofOptions: '{"library":"snarkjs","curve":"bn128"}',
	inputSource: 'json',
	vkMode: 'inline',
	proof: JSON.stringify(groth16Proof),
	publicSignals: '["42"]',
	vk: JSON.stringify(groth16Vk),
	...overrides,
});

beforeEach(async () => {
	emulator = await KurierEmulator.start({ apiKeys: [KEY] });
});

afterEach(async () => {
	await scope.end();
	await emulator.close();
});

afterAll(() => {
	expect(engineLogs.text()).not.toContain(KEY);
});

describe('submitProof', () => {
	test('submits a groth16 proof with its full VK and returns the job', async () => {
		const result = await run(submitParameters({ options: { chainId: 84532 } }));
		expect(result.error).toBeUndefined();
		expect(result.items).toEqual([{ jobId: expect.any(String), optimisticVerify: 'success', proofType: 'groth16', chainId: 84532 }]);
		const job = emulator.getJob(result.items[0].jobId as string);
		expect(job).toMatchObject({ status: 'Queued', proofType: 'groth16', chainId: 84532 });
	});

	test('"Register VK First" registers the VK, submits with its hash, and reuses an existing registration', async () => {
		const first = await run(submitParameters({ vkMode: 'registerFirst' }));
		expect(first.items[0]).toMatchObject({ optimisticVerify: 'success', vkHash: expect.stringMatching(/^0x/), vkAlreadyRegistered: false });
		const second = await run(submitParameters({ vkMode: 'registerFirst' }));
		expect(second.items[0]).toMatchObject({ vkHash: first.items[0].vkHash, vkAlreadyRegistered: true });
	});

	test('a registered VK hash can be given directly; an unregistered one is the service\'s clear error', async () => {
		const registered = await run({ operation: 'registerVk', proofType: 'groth16', inputSource: 'json', vk: JSON.stringify(groth16Vk) });
		const vkHash = registered.items[0].vkHash as string;
		const ok = await run(submitParameters({ vkMode: 'hash', vkHash }));
		expect(ok.items[0]).toMatchObject({ optimisticVerify: 'success' });

		const unknown = await run(submitParameters({ vkMode: 'hash', vkHash: '0xdeadbeef' }));
		expect(unknown.error?.name).toBe('NodeApiError');
		expect(unknown.error?.message).toMatch(/Submitting the proof failed with HTTP 400/);
		expect(unknown.error?.message).not.toContain(KEY);
	});

	test('proof and VK can come from binary files of the input item', async () => {
		const file = (data: string, fileName: string) => ({ data: Buffer.from(data).toString(BINARY_ENCODING), mimeType: 'application/json', fileName });
		const input: INodeExecutionData[] = [
			{
				json: {},
				binary: {
					proof: file(JSON.stringify(groth16Proof), 'proof.json'),
					signals: file('["42"]', 'public.json'),
					vk: file(JSON.stringify(groth16Vk), 'vkey.json'),
				},
			},
		];
		const result = await run(
			submitParameters({ inputSource: 'binary', proofBinaryProperty: 'proof', publicSignalsBinaryProperty: 'signals', vkBinaryProperty: 'vk' }),
			{ input },
		);
		expect(result.error).toBeUndefined();
		expect(result.items[0]).toMatchObject({ optimisticVerify: 'success' });
	});

	test('a missing binary file is a clear error', async () => {
		const result = await run(submitParameters({ inputSource: 'binary', proofBinaryProperty: 'proof', vkBinaryProperty: 'vk' }));
		expect(result.error?.name).toBe('NodeOperationError');
		expect(result.error?.message).toMatch(/proof/i);
	});

	test('malformed proof JSON is a clear error and nothing is sent', async () => {
		const before = emulator.stats.restRequests;
		const result = await run(submitParameters({ proof: '{"pi_a": [1, 2' }));
		expect(result.error?.name).toBe('NodeOperationError');
		expect(result.error?.message).toMatch(/^Proof is not valid JSON/);
		expect(emulator.stats.restRequests).toBe(before);
	});

	test('a proof rejected by optimistic verification fails the node, or is output when that option is off', async () => {
		const rejected = await run(submitParameters({ proof: '{"invalid": true}' }));
		expect(rejected.error?.message).toMatch(/optimistic verification rejected the proof \(job [0-9a-f-]{36}\)/);
		const kept = await run(submitParameters({ proof: '{"invalid": true}', options: { failOnRejectedProof: false } }));
		expect(kept.items[0]).toMatchObject({ optimisticVerify: 'failed', jobId: expect.any(String) });
	});

	test('several input items are submitted one by one, each paired to its item', async () => {
		const result = await run(submitParameters(), { input: [{ json: { n: 1 } }, { json: { n: 2 } }] });
		expect(result.items).toHaveLength(2);
		expect(result.output.map((o) => o.pairedItem)).toEqual([{ item: 0 }, { item: 1 }]);
		expect(new Set(result.items.map((i) => i.jobId)).size).toBe(2);
	});
});

describe('registerVk', () => {
	test('returns the hash; registering again is a success carrying the same hash', async () => {
		const parameters = { operation: 'registerVk', proofType: 'groth16', inputSource: 'json', vk: JSON.stringify(groth16Vk) };
		const first = await run(parameters);
		expect(first.items).toEqual([{ vkHash: expect.stringMatching(/^0x[0-9a-f]{64}$/), alreadyRegistered: false }]);
		const again = await run(parameters);
		expect(again.items).toEqual([{ vkHash: first.items[0].vkHash, alreadyRegistered: true }]);
	});

	test('a wrong key is a NodeApiError with the service message and no key', async () => {
		const result = await run({ operation: 'registerVk', proofType: 'groth16', inputSource: 'json', vk: '{"a":1}' }, { apiKey: 'wrong-key-0000' });
		expect(result.error?.name).toBe('NodeApiError');
		expect(result.error?.message).toMatch(/HTTP 401: Unauthorized or disabled API key/);
		expect(JSON.stringify(result.error)).not.toContain('wrong-key-0000');
	});
});

describe('getJobStatus', () => {
	test('returns the normalized item', async () => {
		const job = emulator.createJob(KEY, { chainId: 84532 });
		emulator.advanceToEnd(job.jobId);
		const result = await run({ operation: 'getJobStatus', jobId: job.jobId });
		expect(result.items[0]).toMatchObject({ source: 'kurier', id: job.jobId, status: 'Aggregated', phase: 'succeeded', isFinal: true, chainId: 84532 });
	});

	test('unknown, malformed and missing job ids are clear errors', async () => {
		const unknown = await run({ operation: 'getJobStatus', jobId: '11111111-2222-4333-8444-555555555555' });
		expect(unknown.error?.name).toBe('NodeApiError');
		expect(unknown.error?.message).toMatch(/HTTP 404: Job not found/);
		const malformed = await run({ operation: 'getJobStatus', jobId: 'abc' });
		expect(malformed.error?.message).toBe('"abc" is not a Kurier job ID');
		// n8n itself refuses an empty required field; an expression that resolves to nothing reaches the node.
		const missing = await run({ operation: 'getJobStatus', jobId: '={{ $json.nothing }}' });
		expect(missing.error?.message).toBe('No job ID given');
	});

	test('with "continue on fail", a bad item becomes an error item and the others go on', async () => {
		const job = emulator.createJob(KEY);
		const nodeType = new Kurier();
		const result = await runManually(
			{ nodeType, parameters: { operation: 'getJobStatus', jobId: '={{ $json.id }}' }, credentials: credentials(), continueOnFail: true },
			[{ json: { id: 'nope' } }, { json: { id: job.jobId } }],
		);
		expect(result.items).toEqual([{ error: '"nope" is not a Kurier job ID' }, expect.objectContaining({ id: job.jobId, status: 'Queued' })]);
	});

	test('an unreachable service is a clear error', async () => {
		await emulator.close();
		const result = await run({ operation: 'getJobStatus', jobId: '11111111-2222-4333-8444-555555555555' });
		expect(result.error?.name).toBe('NodeApiError');
		expect(result.error?.message).toMatch(/refused the connection/);
		expect((result.error as NodeApiError).description).toMatch(/Could not reach GET http:\/\/127.0.0.1:\d+\/api\/v1\/job-status\/\[redacted\]\/.*ECONNREFUSED/);
		expect(JSON.stringify(result.error)).not.toContain(KEY);
		emulator = await KurierEmulator.start({ apiKeys: [KEY] });
	});
});

describe('waitForJob', () => {
	test('waits over the WebSocket until the job is final and returns its final item', async () => {
		const job = emulator.createJob(KEY);
		later(150, () => emulator.advanceToEnd(job.jobId));
		const timersBefore = activeTimerCount();
		const result = await run({ operation: 'waitForJob', jobId: job.jobId, timeoutSeconds: 10, failOnJobFailure: true, options: { pollIntervalSeconds: 60 } });
		expect(result.error).toBeUndefined();
		expect(result.items).toEqual([expect.objectContaining({ id: job.jobId, status: 'Finalized', isFinal: true })]);
		await eventually(() => expect(emulator.openConnectionCount()).toBe(0));
		await eventually(() => expect(activeTimerCount()).toBeLessThanOrEqual(timersBefore));
	});

	test('falls back to polling when the WebSocket cannot be had', async () => {
		const job = emulator.createJob(KEY);
		emulator.setRefuseUpgrades(503);
		later(300, () => emulator.advanceToEnd(job.jobId));
		const result = await run({ operation: 'waitForJob', jobId: job.jobId, timeoutSeconds: 10, options: { pollIntervalSeconds: 1 } });
		expect(result.error).toBeUndefined();
		expect(result.items[0]).toMatchObject({ status: 'Finalized', isFinal: true });
		expect(emulator.stats.connectionsAccepted).toBe(0);
	});

	test('a failed job fails the node, or is output when "Fail If the Job Failed" is off', async () => {
		const failing = emulator.createJob(KEY, { willFail: true });
		later(100, () => emulator.advanceToEnd(failing.jobId));
		const failed = await run({ operation: 'waitForJob', jobId: failing.jobId, timeoutSeconds: 10, failOnJobFailure: true });
		expect(failed.error?.name).toBe('NodeOperationError');
		expect(failed.error?.message).toMatch(new RegExp(`Kurier job ${failing.jobId} failed: `));
		const kept = await run({ operation: 'waitForJob', jobId: failing.jobId, timeoutSeconds: 10, failOnJobFailure: false });
		expect(kept.items[0]).toMatchObject({ status: 'Failed', phase: 'failed', isFinal: true, error: expect.any(String) });
	});

	test('a job that is not final in time is a timeout error naming its last status, and nothing stays open', async () => {
		const job = emulator.createJob(KEY);
		emulator.advance(job.jobId);
		const timersBefore = activeTimerCount();
		const result = await run({ operation: 'waitForJob', jobId: job.jobId, timeoutSeconds: 1, options: { pollIntervalSeconds: 1 } });
		expect(result.error?.message).toBe(`Kurier job ${job.jobId} was not final after 1 s (its last status was Valid)`);
		await eventually(() => expect(emulator.openConnectionCount()).toBe(0));
		await eventually(() => expect(activeTimerCount()).toBeLessThanOrEqual(timersBefore));
	});

	test('an unknown job fails at once instead of waiting for the timeout', async () => {
		const started = Date.now();
		const result = await run({ operation: 'waitForJob', jobId: '11111111-2222-4333-8444-555555555555', timeoutSeconds: 30 });
		expect(result.error?.message).toMatch(/Job not found/);
		expect(Date.now() - started).toBeLessThan(10_000);
	});
});
